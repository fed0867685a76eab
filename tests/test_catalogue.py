"""Sources the way real repositories keep them: a `sources:` catalogue, references to it under Flux's
own field names, sources in another namespace, bootstrap sources, and HelmRelease/Kustomization pairs
that share a name. What renders is checked against the Flux CRDs in test_golden.py (case catalogue)."""

import textwrap
from pathlib import Path

import crds
import pytest
import yaml
from click.testing import CliRunner
from conftest import lines

from fluxgen.cli import cli
from fluxgen.errors import SpecError
from fluxgen.spec import parse_spec

GIT = "defaults: {git: {url: https://github.com/org/fleet}}\n"
CATALOGUE = textwrap.dedent("""\
    sources:
      - {kind: HelmRepository, name: bitnami, url: https://charts.bitnami.com/bitnami}
      - {kind: GitRepository, name: flux-system, existing: true}
      - {kind: OCIRepository, name: app-template, namespace: media, url: oci://ghcr.io/bjw-s/app-template,
         ref: {tag: 4.4.0}}
    """)


def render(text: str) -> list[dict]:
    """The Flux objects rendered (the Namespaces of the releases aside: not what these tests are about)."""
    result = CliRunner().invoke(cli, ["render", "-f", "-"], input=text, prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc["kind"] != "Namespace"]


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "fluxgen.yaml", Path("."))
    return lines(caught.value.problems)


def by_key(docs: list[dict]) -> dict:
    return {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}


def test_every_entry_is_generated_and_existing_ones_never_are():
    docs = by_key(render(CATALOGUE + "apps:\n  - name: site\n    kustomize: {path: ./site}\n    sourceRef: flux-system\n"))
    assert set(docs) == {("HelmRepository", "flux-system", "bitnami"), ("OCIRepository", "media", "app-template"),
                         ("Kustomization", "flux-system", "site")}
    assert docs[("HelmRepository", "flux-system", "bitnami")]["spec"] == {
        "interval": "5m", "url": "https://charts.bitnami.com/bitnami"}
    assert docs[("Kustomization", "flux-system", "site")]["spec"]["sourceRef"] == {"kind": "GitRepository",
                                                                                  "name": "flux-system"}


def test_references_in_every_form_resolve_and_cross_namespaces():
    docs = by_key(render(CATALOGUE + textwrap.dedent("""\
        defaults: {sourceRef: flux-system}
        apps:
          - {name: a, namespace: db, chart: {sourceRef: bitnami, name: redis}}
          - {name: b, namespace: db, chart: {sourceRef: flux-system/bitnami, name: redis}}
          - {name: c, namespace: db, chart: {sourceRef: {kind: HelmRepository, name: bitnami, namespace: flux-system},
                                            name: redis}}
          - {name: d, namespace: media, chartRef: app-template}
          - {name: e, namespace: tenant, chartRef: {kind: OCIRepository, name: chart, namespace: team}}
          - {name: a, namespace: db, kustomize: {path: ./db}}
        """)))
    bitnami = {"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}
    for name in "abc":
        assert docs[("HelmRelease", "db", name)]["spec"]["chart"]["spec"]["sourceRef"] == bitnami
    assert docs[("HelmRelease", "media", "d")]["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "app-template"}
    assert docs[("HelmRelease", "tenant", "e")]["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "chart",
                                                                         "namespace": "team"}
    assert docs[("Kustomization", "db", "a")]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system",
                                                                        "namespace": "flux-system"}
    for doc in docs.values():
        assert crds.problems(doc) == []


def test_an_inline_url_uses_the_entry_it_matches_and_derived_sources_go_to_the_source_namespace():
    docs = by_key(render(CATALOGUE + textwrap.dedent("""\
        defaults: {sourceNamespace: flux-system}
        apps:
          - {name: web, namespace: apps, chart: {repository: "https://Charts.Bitnami.com/bitnami/", name: nginx}}
          - {name: api, namespace: apps, chart: {repository: https://charts.example.com, name: api}}
        """)))
    assert docs[("HelmRelease", "apps", "web")]["spec"]["chart"]["spec"]["sourceRef"]["name"] == "bitnami"
    assert ("HelmRepository", "flux-system", "example") in docs  # derived, in sourceNamespace
    assert docs[("HelmRelease", "apps", "api")]["spec"]["chart"]["spec"]["sourceRef"] == {
        "kind": "HelmRepository", "name": "example", "namespace": "flux-system"}


def test_apps_that_name_their_sources_differently_get_one_each():
    docs = render(textwrap.dedent("""\
        apps:
          - {name: a, chart: {repository: oci://ghcr.io/org/charts, name: app, version: 1.0.0, repositoryName: a}}
          - {name: b, chart: {repository: oci://ghcr.io/org/charts, name: app, version: 1.0.0, repositoryName: b}}
          - {name: c, chart: {repository: oci://ghcr.io/org/charts, name: app, version: 1.0.0}}
        """))
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "OCIRepository"] == ["a", "b"]
    assert [d["spec"]["chartRef"]["name"] for d in docs if d["kind"] == "HelmRelease"] == ["a", "b", "a"]


def test_the_bootstrap_repository_is_referenced_from_defaults_and_an_app_s_own_source_wins():
    docs = by_key(render(textwrap.dedent("""\
        defaults:
          git: {url: ssh://git@github.com/org/fleet, name: flux-system, existing: true}
        apps:
          - {name: infra, kustomize: {path: ./infra}}
          - {name: other, kustomize: {path: ./x}, git: {url: https://github.com/org/other}}
        """)))
    assert set(docs) == {("GitRepository", "flux-system", "other"), ("Kustomization", "flux-system", "infra"),
                         ("Kustomization", "flux-system", "other")}
    assert docs[("Kustomization", "flux-system", "infra")]["spec"]["sourceRef"]["name"] == "flux-system"


def test_an_existing_chart_source_and_a_chart_source_ref_in_defaults():
    docs = by_key(render(CATALOGUE + textwrap.dedent("""\
        defaults: {chart: {sourceRef: bitnami}}
        apps:
          - {name: redis, namespace: db, chart: {name: redis}}
          - {name: own, chart: {repository: https://x.example.com, name: own, repositoryName: x,
                                source: {existing: true}}}
        """)))
    assert docs[("HelmRelease", "db", "redis")]["spec"]["chart"]["spec"]["sourceRef"]["name"] == "bitnami"
    assert docs[("HelmRelease", "flux-system", "own")]["spec"]["chart"]["spec"]["sourceRef"] == {
        "kind": "HelmRepository", "name": "x"}
    assert ("HelmRepository", "flux-system", "x") not in docs


BAD = {
    "a reference and an inline URL": (
        CATALOGUE + "apps:\n  - name: a\n    chart: {sourceRef: bitnami, name: r, repository: https://x.example.com}\n",
        ["fluxgen.yaml:8: apps[0].chart.sourceRef: cannot be combined with 'repository' or 'source' or "
         "'repositoryName'"]),
    "a sourceRef and an own git URL": (
        CATALOGUE + "apps:\n  - name: a\n    kustomize: {path: a}\n    sourceRef: flux-system\n"
                    "    git: {url: https://github.com/org/x}\n",
        ["fluxgen.yaml:9: apps[0].sourceRef: names the source, so git cannot be given too; give one or the other"]),
    "an unknown name": (
        CATALOGUE + "apps:\n  - name: a\n    chartRef: app-templat\n",
        ["fluxgen.yaml:8: apps[0].chartRef: no sources: entry is named 'app-templat'; did you mean 'app-template'?"]),
    "a reference of the wrong kind": (
        CATALOGUE + "apps:\n  - name: a\n    chartRef: bitnami\n",
        ["fluxgen.yaml:8: apps[0].chartRef: 'bitnami' is a HelmRepository; chartRef takes OCIRepository or "
         "HelmChart or ExternalArtifact (use chart.sourceRef)"]),
    "two entries for one object": (
        CATALOGUE + "  - {kind: HelmRepository, name: bitnami, url: https://other.example.com}\napps: [{name: a, "
                    "chartRef: app-template}]\n",
        ["fluxgen.yaml:6: sources[3].name: sources[0] is already the HelmRepository 'bitnami' of this namespace"]),
    "an existing entry with spec fields": (
        "sources:\n  - {kind: GitRepository, name: flux-system, existing: true, interval: 1m}\n"
        "apps: [{name: a, kustomize: {path: a}, sourceRef: flux-system}]\n",
        ["fluxgen.yaml:2: sources[0].interval: an existing source is referenced, never generated: give only kind, "
         "name, namespace and, for matching, url and ref"]),
    "a field of another kind": (
        "sources:\n  - {kind: HelmRepository, name: h, url: https://h.example.com, ref: {tag: x}}\n"
        "apps: [{name: a, chart: {sourceRef: h, name: a}}]\n",
        ["fluxgen.yaml:2: sources[0].ref: unknown field"]),
    "an entry without a URL": (
        "sources:\n  - {kind: OCIRepository, name: o}\napps: [{name: a, chartRef: o}]\n",
        ["fluxgen.yaml:2: sources[0]: an OCIRepository needs a url (or existing: true for one made elsewhere)"]),
    "a short name in two namespaces": (
        "sources:\n  - {kind: OCIRepository, name: o, namespace: a, url: oci://x.io/o}\n"
        "  - {kind: OCIRepository, name: o, namespace: b, url: oci://x.io/o}\napps: [{name: a, chartRef: o}]\n",
        ["fluxgen.yaml:4: apps[0].chartRef: more than one sources: entry is named 'o' (OCIRepository a/o, OCIRepository b/o); write "
         "NAMESPACE/NAME"]),
    "an ambiguous dependsOn": (
        GIT + "apps:\n  - {name: x, namespace: a, kustomize: {path: a}}\n  - {name: x, namespace: b, kustomize: "
              "{path: b}}\n  - {name: z, namespace: c, kustomize: {path: c}, dependsOn: [x]}\n",
        ["fluxgen.yaml:5: apps[2].dependsOn[0]: 'x' is the name of a Kustomization in namespaces a, b; write "
         "{name: x, namespace: ...}"]),
    "two apps for one object": (
        GIT + "apps:\n  - {name: x, kustomize: {path: a}}\n  - {name: x, kustomize: {path: b}}\n",
        ["fluxgen.yaml:4: apps[1].name: apps[0] is already the Kustomization 'x' of namespace flux-system"]),
    "an existing Git source without a name": (
        "apps:\n  - {name: a, kustomize: {path: a}, git: {url: https://github.com/org/x, existing: true}}\n",
        ["fluxgen.yaml:2: apps[0].git.existing: an existing GitRepository is referenced by name: give git.name"]),
    "a digest on a Helm repository chart": (
        "apps:\n  - {name: a, chart: {repository: https://c.example.com, name: a, version: 'sha256:" + "0" * 64
        + "'}}\n",
        ["fluxgen.yaml:2: apps[0].chart.version: a digest pins an OCI artifact; a Helm repository chart takes a "
         "version or a semver range"]),
    "a Helm chart from a Git source without a path": (
        "sources:\n  - {kind: GitRepository, name: g, url: https://github.com/org/x}\n"
        "apps: [{name: a, chart: {sourceRef: g, name: a}}]\n",
        ["fluxgen.yaml:3: apps[0].chart.sourceRef: 'g' is a GitRepository; chart.sourceRef takes HelmRepository or "
         "Bucket (a chart is given by its path in Git, by its name in a HelmRepository)"]),
    "an explicit name that is an entry's, for another source": (
        CATALOGUE + "apps:\n  - {name: a, chart: {repository: https://other.example.com, name: a, repositoryName: "
                    "bitnami}}\n",
        ["fluxgen.yaml:7: apps[0].chart.repositoryName: 'bitnami' names a different HelmRepository in sources:; give "
         "this one another name, or use that entry"]),
}


@pytest.mark.parametrize("text, expected", BAD.values(), ids=BAD.keys())
def test_bad_catalogues_and_references_are_refused_at_their_line(text, expected):
    assert problems(text) == expected


def test_init_names_the_catalogue_entry_of_the_repository_asked_for(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(CATALOGUE + "apps:\n  - {name: site, kustomize: {path: ./site}, sourceRef: flux-system}\n")
    result = CliRunner().invoke(cli, ["init", "-f", str(spec), "--scenario", "chart", "--name", "redis", "--repository",
                                      "https://charts.bitnami.com/bitnami/", "--chart", "redis"],
                                prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(spec.read_text())["apps"][-1] == {"name": "redis", "chart": {"sourceRef": "bitnami",
                                                                                       "name": "redis"}}
    assert "name: bitnami" in result.stdout  # what it renders to: the entry, then the HelmRelease


def test_output_dir_keeps_the_catalogue_in_one_folder(tmp_path):
    spec = Path(__file__).parent / "cases" / "catalogue" / "fluxgen.yaml"
    result = CliRunner().invoke(cli, ["render", "-f", str(spec), "--output-dir", str(tmp_path)],
                                prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    entries = [(d["kind"], d["metadata"]["name"]) for path in sorted((tmp_path / "sources").iterdir())
               for d in yaml.safe_load_all(path.read_text())]
    assert entries == [("HelmRepository", "bitnami"), ("HelmRepository", "unused"), ("OCIRepository", "app-template"),
                       ("OCIRepository", "manifests")]


# ---- found by a hostile pass over the catalogue ------------------------------------------------------

def sources_of(docs: list[dict]) -> dict:
    return {(d["kind"], d["metadata"]["name"]): d["spec"] for d in docs if d["kind"].endswith("Repository")}


def refs_of(docs: list[dict]) -> dict:
    return {(d["kind"], d["metadata"]["name"]): d["spec"].get("sourceRef") or d["spec"].get("chartRef")
            or d["spec"]["chart"]["spec"]["sourceRef"] for d in docs if not d["kind"].endswith("Repository")}


def test_entry_values_are_read_as_text_as_on_apps():
    docs = render("sources:\n  - {kind: GitRepository, name: g, url: https://github.com/o/r, ref: {tag: 1.10}}\n"
                  "  - {kind: HelmRepository, name: 123, namespace: 2024, url: https://h.example.com, "
                  "secretRef: {name: 12345}}\napps:\n  - {name: b, kustomize: {path: ./}, sourceRef: g}\n"
                  "  - {name: a, namespace: '2024', chart: {sourceRef: '123', name: a}}\n")
    found = sources_of(docs)
    assert found[("GitRepository", "g")]["ref"] == {"tag": "1.10"}
    assert found[("HelmRepository", "123")]["secretRef"] == {"name": "12345"}
    assert refs_of(docs)[("HelmRelease", "a")] == {"kind": "HelmRepository", "name": "123"}  # same namespace
    for doc in docs:
        assert crds.problems(doc) == []


def test_git_entries_match_inline_urls_with_the_ref_they_render_and_existing_ones_any_ref():
    docs = render("sources:\n  - {kind: GitRepository, name: fleet, url: https://github.com/org/fleet}\n"
                  "  - {kind: GitRepository, name: boot, existing: true, url: https://github.com/org/boot}\n"
                  "apps:\n  - {name: a, kustomize: {path: ./a}, git: {url: https://github.com/org/fleet}}\n"
                  "  - {name: b, kustomize: {path: ./b}, git: {url: https://github.com/org/boot, tag: v1}}\n")
    assert set(sources_of(docs)) == {("GitRepository", "fleet")}
    assert refs_of(docs) == {("Kustomization", "a"): {"kind": "GitRepository", "name": "fleet"},
                             ("Kustomization", "b"): {"kind": "GitRepository", "name": "boot"}}


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_sharing_does_not_depend_on_the_order_of_the_apps(order):
    apps = ["  - {name: a, kustomize: {path: ./a}, git: {url: https://github.com/org/fleet}}\n",
            "  - {name: b, kustomize: {path: ./b}, git: {url: https://github.com/org/fleet, ref: {name: refs/heads/main}, "
            "name: flux-system, existing: true}}\n"]
    docs = render("apps:\n" + "".join(apps[i] for i in order))
    assert sources_of(docs) == {}  # one source, the existing flux-system, for both
    assert set(map(str, refs_of(docs).values())) == {str({"kind": "GitRepository", "name": "flux-system"})}


def test_an_object_referenced_as_managed_elsewhere_is_never_generated_over():
    docs = render("apps:\n  - {name: other, chartRef: {kind: OCIRepository, name: podinfo}}\n"
                  "  - {name: podinfo, chart: {repository: oci://ghcr.io/stefanprodan/charts, name: podinfo, "
                  "version: 6.7.1}}\n")
    assert [name for kind, name in sources_of(docs)] != ["podinfo"]
    assert refs_of(docs)[("HelmRelease", "other")]["name"] == "podinfo"
    assert problems("apps:\n  - {name: other, chartRef: {kind: OCIRepository, name: podinfo}}\n"
                    "  - {name: podinfo, chart: {repository: oci://ghcr.io/o/charts, name: podinfo, version: 1.0.0, "
                    "repositoryName: podinfo}}\n") == [
        "fluxgen.yaml:3: apps[1].chart.repositoryName: 'podinfo' names the OCIRepository an app references as "
        "managed elsewhere; generating it would replace that one"]


def test_an_app_s_own_git_wins_over_a_default_reference_and_options_from_defaults_do_not_break_a_match():
    docs = render(CATALOGUE + "defaults: {sourceRef: flux-system, chart: {source: {interval: 30m}}}\napps:\n"
                  "  - {name: b, kustomize: {path: ./b}, git: {name: other-repo, existing: true}}\n"
                  "  - {name: c, chart: {repository: https://charts.bitnami.com/bitnami, name: redis}}\n")
    assert refs_of(docs)[("Kustomization", "b")] == {"kind": "GitRepository", "name": "other-repo"}
    assert refs_of(docs)[("HelmRelease", "c")]["name"] == "bitnami"
    assert ("HelmRepository", "bitnami-") not in {(k, n[:8]) for k, n in sources_of(docs)}


def test_packages_of_a_same_name_pair_are_both_written(tmp_path):
    for folder in ("m1", "m2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {folder}}}\n")
    (tmp_path / "fluxgen.yaml").write_text(GIT + "apps:\n  - {name: web, chart: {path: ./charts/web}, package: m1}\n"
                                                 "  - {name: web, kustomize: {path: ./apps/web}, package: m2}\n")
    result = CliRunner().invoke(cli, ["render", "-f", str(tmp_path / "fluxgen.yaml"), "--output-dir",
                                      str(tmp_path / "out")], prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out/charts/web/Chart.yaml").exists() and (tmp_path / "out/apps/web/kustomization.yaml").exists()


MORE_BAD = {
    "an OCIRepository entry with an https URL": (
        "sources:\n  - {kind: OCIRepository, name: p, url: https://ghcr.io/o/p, ref: {tag: 1.0.0}}\n"
        "apps: [{name: a, chartRef: p}]\n",
        ["fluxgen.yaml:2: sources[0].url: an OCIRepository reads oci:// URLs"]),
    "a chart from a Bucket without name or path": (
        "apps:\n  - {name: a, chart: {sourceRef: {kind: Bucket, name: charts}}}\n",
        ["fluxgen.yaml:2: apps[0].chart: give the chart's name (in a HelmRepository) or its path (in Git)"]),
    "a dependsOn cycle in Flux's form": (
        GIT + "apps:\n  - {name: a, namespace: one, kustomize: {path: ./a}, dependsOn: [{name: b, namespace: two}]}\n"
              "  - {name: b, namespace: two, kustomize: {path: ./b}, dependsOn: [{name: a, namespace: one}]}\n",
        ["fluxgen.yaml:4: apps[1].dependsOn: dependency cycle: a -> b -> a"]),
    "existing in defaults.chart.source": (
        "defaults: {chart: {source: {existing: true}}}\napps: [{name: a, chart: {repository: https://c.example.com, "
        "name: a}}]\n",
        ["fluxgen.yaml:1: defaults.chart.source.existing: unknown field"]),
    "an existing inline source with spec fields": (
        "apps:\n  - {name: a, kustomize: {path: ./a}, git: {url: https://github.com/o/r, name: r, existing: true, "
        "interval: 10m}}\n",
        ["fluxgen.yaml:2: apps[0].git.interval: an existing source is referenced, never generated: its spec fields "
         "are not fluxgen's to set"]),
    "two refs in Flux's form, reported once": (
        "apps:\n  - {name: a, kustomize: {path: ./a}, git: {url: https://github.com/o/r, ref: {tag: v1, semver: 1.x}}}\n",
        ["fluxgen.yaml:2: apps[0].git.ref: give one Git ref (branch, tag, semver or commit; commit may join a "
         "branch), not tag and semver"]),
    "an existing inline source named like an entry with another URL": (
        "sources:\n  - {kind: GitRepository, name: fleet, url: https://github.com/org/other}\n"
        "apps:\n  - {name: a, kustomize: {path: ./a}, git: {url: https://github.com/org/fleet, name: fleet, "
        "existing: true}}\n",
        ["fluxgen.yaml:4: apps[0].git.name: 'fleet' names a different GitRepository in sources:; give this one "
         "another name, or use that entry"]),
}


@pytest.mark.parametrize("text, expected", MORE_BAD.values(), ids=MORE_BAD.keys())
def test_more_bad_catalogues_are_refused_at_their_line(text, expected):
    assert problems(text) == expected


def test_a_sources_entry_that_would_replace_another_source_in_the_cluster_is_a_clash():
    from fluxgen.resources import build
    from fluxgen.sources import ClusterSource

    spec = parse_spec(CATALOGUE + "apps: [{name: a, chart: {sourceRef: bitnami, name: a}}]\n", "fluxgen.yaml", Path("."))
    theirs = ClusterSource("HelmRepository", "flux-system", "bitnami", {"url": "https://other.example.com"})
    assert [(s.kind, s.name) for s, _ in build(spec.apps, spec.sources, [theirs]).clashes] == [
        ("HelmRepository", "bitnami")]
    same = ClusterSource("HelmRepository", "flux-system", "bitnami", {"url": "https://charts.bitnami.com/bitnami"})
    assert build(spec.apps, spec.sources, [same]).clashes == []


def test_an_app_folder_named_like_the_catalogue_folder_is_refused(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(CATALOGUE + "apps: [{name: s, kustomize: {path: ./sources}, git: {url: https://github.com/o/r}}]\n")
    result = CliRunner().invoke(cli, ["render", "-f", str(spec), "--output-dir", str(tmp_path / "out")],
                                prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stderr) == (1, "Error: an app's folder is sources/, where the sources: entries "
                                                    "go; give the app another name or path\n")


def test_init_asks_no_git_url_when_defaults_name_the_source(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(CATALOGUE + "defaults: {sourceRef: flux-system}\napps:\n  - {name: a, kustomize: {path: ./a}}\n")
    result = CliRunner().invoke(cli, ["init", "-f", str(spec), "--scenario", "kustomize", "--name", "b", "--path",
                                      "./b"], prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(spec.read_text())["apps"][-1] == {"name": "b", "kustomize": {"path": "./b"}}
