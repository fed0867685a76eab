"""renovate/fluxgen.json: Renovate's custom managers find every chart version (and OCI tag) in
fluxgen.yaml, and a bump there is what render then writes. The regular expressions are Renovate's
(JavaScript/RE2 syntax); Python's re reads them once `(?<name>` is written `(?P<name>`."""

import json
import re
import textwrap
from pathlib import Path

import pytest

from fluxgen import document
from fluxgen.resources import build
from fluxgen.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
PRESET = json.loads((ROOT / "renovate" / "fluxgen.json").read_text())


def extract(text: str) -> list[dict]:
    """What Renovate's regex managers extract: one dependency per match, with the templates applied."""
    deps = []
    for manager in PRESET["customManagers"]:
        assert any(re.search(pattern.strip("/"), "clusters/fluxgen.yaml") for pattern in manager["managerFilePatterns"])
        for pattern in manager["matchStrings"]:
            for match in re.finditer(pattern.replace("(?<", "(?P<"), text):
                found = {k: v for k, v in match.groupdict().items() if v is not None}
                if "datasourceTemplate" in manager:
                    found["datasource"] = manager["datasourceTemplate"]
                if "packageNameTemplate" in manager:
                    groups = dict(found)
                    found["packageName"] = re.sub(r"\{\{\{(\w+)\}\}\}", lambda m, groups=groups: groups[m.group(1)],
                                                  manager["packageNameTemplate"])
                found["replaceString"] = match.group(0)
                deps.append(found)
    return deps


def inline_charts(spec_text: str) -> list[tuple[str, str, str]]:
    """(repository, name, version) of every app chart written with its repository and a version."""
    doc, _ = document.load(spec_text, "fluxgen.yaml")  # versions as written (1.10 is not 1.1)
    apps = doc["apps"] + [change for cluster in (doc.get("clusters") or {}).values() for change in
                          ((cluster or {}).get("apps") or {}).values() if isinstance(change, dict)]
    return [(app["chart"]["repository"], app["chart"]["name"], getattr(app["chart"]["version"], "text",
                                                                       str(app["chart"]["version"]))) for app in apps
            if isinstance(app.get("chart"), dict) and {"repository", "name", "version"} <= set(app["chart"])]


@pytest.mark.parametrize("spec", sorted(ROOT.glob("examples/**/fluxgen.yaml")) + sorted(ROOT.glob(
    "tests/cases/*/fluxgen.yaml")), ids=lambda p: str(p.relative_to(ROOT).parent))
def test_every_chart_version_written_with_its_repository_is_found(spec):
    text = spec.read_text()
    found = sorted(((d.get("registryUrl") or "oci://" + d["packageName"].rsplit("/", 1)[0]).rstrip("/"), d["depName"],
                    d["currentValue"]) for d in extract(text))
    assert found == sorted((repo.rstrip("/"), name, version) for repo, name, version in inline_charts(text))


def test_helm_and_oci_charts_get_renovate_s_datasources():
    text = textwrap.dedent("""\
        apps:
          - name: ingress-nginx
            chart:
              repository: https://kubernetes.github.io/ingress-nginx
              name: ingress-nginx
              version: "4.8.3"
          - name: podinfo
            chart: {repository: 'oci://ghcr.io/stefanprodan/charts/', name: podinfo, version: 6.7.1}
        """)
    deps = [{k: v for k, v in d.items() if k != "replaceString"} for d in extract(text)]
    assert deps == [
        {"registryUrl": "https://kubernetes.github.io/ingress-nginx", "depName": "ingress-nginx",
         "currentValue": "4.8.3", "datasource": "helm"},
        {"ociRepository": "ghcr.io/stefanprodan/charts", "depName": "podinfo", "currentValue": "6.7.1",
         "datasource": "docker", "packageName": "ghcr.io/stefanprodan/charts/podinfo"}]


def test_a_renovate_comment_covers_charts_of_sources_entries_and_oci_tags():
    text = textwrap.dedent("""\
        sources:
          - kind: OCIRepository
            name: manifests
            url: oci://ghcr.io/org/manifests
            # renovate: datasource=docker depName=ghcr.io/org/manifests
            ref: {tag: v1.2.0}
          - {kind: HelmRepository, name: jetstack, url: https://charts.jetstack.io}
        apps:
          - name: cert-manager
            # renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
            chart: {sourceRef: jetstack, name: cert-manager, version: v1.16.2}
          - name: site
            kustomize: {path: ./}
            sourceRef: {kind: OCIRepository, name: manifests}
        """)
    deps = [(d["datasource"], d["depName"], d.get("registryUrl"), d["currentValue"]) for d in extract(text)]
    assert deps == [("docker", "ghcr.io/org/manifests", None, "v1.2.0"),
                    ("helm", "cert-manager", "https://charts.jetstack.io", "v1.16.2")]


def test_a_bump_in_the_spec_is_what_render_writes():
    """Renovate replaces currentValue inside the matched text; the spec stays valid and renders
    the new version."""
    text = (ROOT / "examples" / "fluxgen.yaml").read_text()
    bumped = text
    for dep in extract(text):
        new = dep["replaceString"].replace(dep["currentValue"], "9.9.9", 1)
        bumped = bumped.replace(dep["replaceString"], new, 1)
    spec = parse_spec(bumped, "fluxgen.yaml", ROOT / "examples")
    objects = [placed.obj for placed in build(spec.apps, spec.sources).objects]
    versions = [obj["spec"]["chart"]["spec"]["version"] for obj in objects if obj["kind"] == "HelmRelease" and
                "version" in obj["spec"].get("chart", {}).get("spec", {})]
    tags = [obj["spec"]["ref"]["tag"] for obj in objects if obj["kind"] == "OCIRepository"]
    assert versions == ["9.9.9", "9.9.9"] and tags == ["9.9.9"]
