"""check: each rule of the Flux maintainers' guidance fires on a planted case, at the line where the
fix goes, and stays silent once fixed; rules can be turned off; examples and real repositories."""

import os
import textwrap
from pathlib import Path

import pytest
import upstream
from click.testing import CliRunner

from fluxgen.cli import cli
from fluxgen.practices import RULES

ROOT = Path(__file__).resolve().parent.parent
FLUX_EXAMPLE = "fluxcd/flux2-kustomize-helm-example/a484a05e9270cb8e4b56a1e4a8f60e66c7923fc6"
ALERT = "notifications: [{name: slack, provider: {type: slack, channel: ops, secretRef: {name: hook}}}]\n"
GIT = "        defaults: {git: {url: https://github.com/org/fleet}}\n"  # indented as the cases below


def check(tmp_path: Path, text: str, *args: str):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(cli, ["check", "-f", str(spec), *args], prog_name="kubectl fluxgen")
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, [line.replace(f"{spec}:", "fluxgen.yaml:") for line in result.stdout.splitlines()]


# (rule, the spec that breaks it, the finding's line and object, the spec once fixed); every spec has an Alert
PLANTED = [
    ("chart-version", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web}
        """, 3, "apps[0] web", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
        """),
    ("retry-on-failure", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
            install:
              remediation: {retries: 3}
        """, 4, "apps[0] web", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
        """),
    ("create-namespace", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
            install: {createNamespace: true}
        """, 4, "apps[0] web", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
        """),
    ("storage-namespace", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
            storageNamespace: flux-system
        """, 4, "apps[0] web", """\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
        """),
    ("crds-policy", """\
        apps:
          - name: cert-manager
            chart: {repository: https://charts.jetstack.io, name: cert-manager, version: 1.x}
            values: {crds: {enabled: true}}
        """, 2, "apps[0] cert-manager", """\
        apps:
          - name: cert-manager
            chart: {repository: https://charts.jetstack.io, name: cert-manager, version: 1.x}
            values: {crds: {enabled: true}}
            install: {crds: CreateReplace}
            upgrade: {crds: CreateReplace}
        """),
    ("prune", GIT + """\
        apps:
          - name: site
            kustomize:
              path: site
              prune: false
        """, 6, "apps[0] site", GIT + """\
        apps:
          - name: site
            kustomize:
              path: site
        """),
    ("wait-for-dependencies", GIT + """\
        apps:
          - name: infra
            kustomize: {path: infra}
            wait: false
          - name: site
            kustomize: {path: site}
            dependsOn: [infra]
        """, 5, "apps[0] infra", GIT + """\
        apps:
          - name: infra
            kustomize: {path: infra}
          - name: site
            kustomize: {path: site}
            dependsOn: [infra]
        """),
    ("timeout", GIT + """\
        apps:
          - name: site
            kustomize: {path: site}
            wait: true
        """, 5, "apps[0] site", GIT + """\
        apps:
          - name: site
            kustomize: {path: site}
            wait: true
            timeout: 3m
        """),
    ("retry-interval", GIT + """\
        apps:
          - name: site
            kustomize: {path: site}
            interval: 30m
        """, 5, "apps[0] site", GIT + """\
        apps:
          - name: site
            kustomize: {path: site}
            interval: 30m
            retryInterval: 5m
        """),
    ("source-interval", """\
        defaults:
          interval: 10m
        apps:
          - name: web
            chart:
              repository: https://charts.example.com
              name: web
              version: 2.x
              source: {interval: 1h}
        """, 2, "apps[0] web", """\
        defaults:
          interval: 10m
        apps:
          - name: web
            chart:
              repository: https://charts.example.com
              name: web
              version: 2.x
              source: {interval: 10m}
        """),
    ("oci-tag", """\
        sources:
          - kind: OCIRepository
            name: manifests
            url: oci://ghcr.io/org/manifests
            ref: {tag: latest}
        apps:
          - name: site
            kustomize: {path: ./}
            sourceRef: {kind: OCIRepository, name: manifests}
        """, 5, "sources[0] manifests", """\
        sources:
          - kind: OCIRepository
            name: manifests
            url: oci://ghcr.io/org/manifests
            ref: {tag: v1.2.0}
        apps:
          - name: site
            kustomize: {path: ./}
            sourceRef: {kind: OCIRepository, name: manifests}
        """),
    ("oci-helm-repository", """\
        apps:
          - name: web
            chart:
              repository: oci://ghcr.io/org/charts
              name: web
              version: 2.x
              source: {type: oci}
        """, 7, "apps[0] web", """\
        apps:
          - name: web
            chart:
              repository: oci://ghcr.io/org/charts
              name: web
              version: 2.x
        """),
]


@pytest.mark.parametrize("rule, broken, line, label, fixed", PLANTED, ids=[case[0] for case in PLANTED])
def test_each_rule_fires_at_the_line_to_fix_and_is_silent_once_fixed(tmp_path, rule, broken, line, label, fixed):
    code, found = check(tmp_path, ALERT + textwrap.dedent(broken))
    level = next(r.level for r in RULES if r.id == rule)
    mine = [f for f in found if f.endswith(f"[{rule}]")]
    assert len(mine) == 1 and mine[0].startswith(f"fluxgen.yaml:{line + 1}: {label}: {level}: "), found
    assert code == (1 if level == "error" else 0)
    assert check(tmp_path, ALERT + textwrap.dedent(fixed)) == (0, [])


def test_every_rule_has_a_planted_case():
    tested = {case[0] for case in PLANTED} | {"failure-alert", "helm-timeout", "drift-detection"}
    assert tested == {rule.id for rule in RULES}


def test_a_spec_without_an_alert_gets_one_finding_and_a_partial_alert_names_what_it_misses(tmp_path):
    app = "apps:\n  - name: web\n    chart: {repository: https://charts.example.com, name: web, version: 2.x}\n"
    assert check(tmp_path, app) == (0, ["fluxgen.yaml:1: notifications: warning: no Alert reports the failures of its "
                                        "HelmReleases and Kustomizations: add notifications: (a Provider and an Alert "
                                        "with eventSeverity: error over every HelmRelease and Kustomization) "
                                        "[failure-alert]"])
    partial = ("notifications:\n  - name: slack\n    provider: {type: slack}\n"
               "    alert: {eventSources: [{kind: Kustomization, name: '*'}]}\n")
    assert check(tmp_path, partial + app) == (0, [
        "fluxgen.yaml:6: apps[0] web: warning: no Alert reports its failures: add {kind: HelmRelease, name: '*'} to "
        "an Alert's eventSources [failure-alert]"])


def test_info_rules_show_with_level_info_and_strict_fails_on_warnings(tmp_path):
    text = ALERT + "apps:\n  - name: web\n    chart: {repository: https://charts.example.com, name: web, version: 2.x}\n"
    assert check(tmp_path, text) == (0, [])
    code, found = check(tmp_path, text, "--level", "info")
    assert code == 0 and [f.rsplit(" ", 1)[-1] for f in found] == ["[helm-timeout]", "[drift-detection]"]
    assert all(f.startswith("fluxgen.yaml:3: apps[0] web: info: ") for f in found)
    assert check(tmp_path, text + "    timeout: 10m\n    driftDetection: {mode: enabled}\n", "--level", "info") == (0, [])
    assert check(tmp_path, text.replace("version: 2.x", "version: 2.x, source: {interval: 1h}"), "--strict")[0] == 1


def test_rules_are_turned_off_in_the_spec_per_app_and_on_the_command_line(tmp_path):
    app = "  - name: web\n    chart: {repository: https://charts.example.com, name: web}\n"
    assert check(tmp_path, ALERT + "apps:\n" + app)[0] == 1
    assert check(tmp_path, ALERT + "check: {disable: [chart-version]}\napps:\n" + app) == (0, [])
    assert check(tmp_path, ALERT + "apps:\n" + app + "    check: {disable: [chart-version]}\n") == (0, [])
    code, found = check(tmp_path, ALERT + "apps:\n" + app + app.replace("web", "api"), "--disable", "chart-version")
    assert (code, found) == (0, [])
    per_app = check(tmp_path, ALERT + "apps:\n" + app + "    check: {disable: [chart-version]}\n" +
                    app.replace("web", "api"))
    assert per_app[0] == 1 and [f.split(":")[2] for f in per_app[1]] == [" apps[1] api"]


def test_an_unknown_rule_is_an_error_with_its_place(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(ALERT + "check: {disable: [chart-versions]}\napps:\n  - {name: web, chart: {repository: "
                            "https://charts.example.com, name: web}}\n")
    result = CliRunner().invoke(cli, ["check", "-f", str(spec)], prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"{spec}:2: check.disable[0]: ")
    result = CliRunner().invoke(cli, ["check", "-f", str(spec), "--disable", "chart-versions"])
    assert result.exit_code == 2 and "did you mean 'chart-version'" in result.stderr


def test_a_finding_on_some_clusters_names_them_at_the_change_that_causes_it(tmp_path):
    text = ALERT + textwrap.dedent("""\
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web, version: 2.x}
        clusters:
          staging:
            apps:
              web: {install: {createNamespace: true}}
          production: {}
        """)
    code, found = check(tmp_path, text)
    assert code == 0 and len(found) == 1
    assert found[0].startswith("fluxgen.yaml:8: apps[0] web: warning: a namespace Helm creates")
    assert found[0].endswith("(on cluster staging) [create-namespace]")
    code, found = check(tmp_path, text.replace("  production: {}", "  production: {notifications: []}"))
    assert found[1] == ("fluxgen.yaml:9: notifications: warning: no Alert reports the failures of its HelmReleases and "
                        "Kustomizations: add notifications: (a Provider and an Alert with eventSeverity: error over "
                        "every HelmRelease and Kustomization) (on cluster production) [failure-alert]")


@pytest.mark.parametrize("spec", sorted(ROOT.glob("examples/**/fluxgen.yaml")), ids=lambda p: p.parent.name)
def test_the_bundled_examples_pass_their_own_check(spec):
    result = CliRunner().invoke(cli, ["check", "-f", str(spec)], prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stdout) == (0, ""), result.stdout
    assert result.stderr == "0 errors, 0 warnings, 0 infos\n"


def test_files_of_a_real_repository_are_checked_where_they_are_written(monkeypatch):
    monkeypatch.chdir(upstream.tree(FLUX_EXAMPLE))
    result = CliRunner().invoke(cli, ["check", "clusters", "infrastructure", "apps"], prog_name="kubectl fluxgen")
    assert result.exit_code == 1  # ingress-nginx: version "*"
    found = result.stdout.splitlines()
    assert ("infrastructure/controllers/ingress-nginx.yaml:28: HelmRelease ingress-nginx/ingress-nginx: error: no "
            "chart version (or *): every new version, majors included, installs itself; pin a version or a range "
            "such as 4.x [chart-version]") in found
    assert any(f.startswith("clusters/staging/infrastructure.yaml:23: Kustomization flux-system/infra-configs: "
                            "warning: apps depends on it") for f in found)
    assert not any("podinfo-values.yaml" in f for f in found)  # patches an overlay lays over its base are no objects
    assert found == sorted(found, key=lambda f: (f.split(":")[0], int(f.split(":")[1]) if f.split(":")[1].isdigit()
                                                  else 0))
    assert result.stderr == "2 errors, 11 warnings, 0 infos\n"


def test_paths_and_a_spec_are_not_mixed_and_bad_files_are_clean_errors(tmp_path):
    result = CliRunner().invoke(cli, ["check", "-f", "x.yaml", str(tmp_path)])
    assert result.exit_code == 2 and "not both" in result.stderr
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert (result.exit_code, result.stdout) == (1, "") and result.stderr.startswith(f"{tmp_path}/bad.yaml:")


def test_files_that_are_not_objects_or_have_fields_of_the_wrong_type_are_no_crash(tmp_path):
    (tmp_path / "patch.yaml").write_text("- op: add\n  path: /x\n  value: 1\n---\nhello\n---\nkind: List\nitems: [null, 5]\n")
    (tmp_path / "odd.yaml").write_text(textwrap.dedent("""\
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: web, namespace: apps}
        spec: {chart: x, install: [1], upgrade: x, driftDetection: x, values: [1], interval: 1h}
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: site, namespace: apps}
        spec: {dependsOn: 5, chart: {spec: x}, sourceRef: x, prune: true}
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: OCIRepository
        metadata: {name: oci, namespace: apps}
        spec: {ref: latest, layerSelector: x}
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: a, namespace: apps}
        spec: {eventSources: 5}
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: b, namespace: apps}
        spec: {eventSources: [{kind: HelmRelease, name: '*', matchLabels: [1]}]}
        """))
    result = CliRunner().invoke(cli, ["check", "--level", "info", str(tmp_path)], prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.output
    assert "odd.yaml:4: HelmRelease apps/web: warning: set install.strategy and upgrade.strategy" in result.stdout


def test_a_path_that_is_no_file_or_folder_is_an_error(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "fifo.yaml")], prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{tmp_path / 'fifo.yaml'}: is not a regular file or folder\n"
