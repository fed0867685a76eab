"""The spec format: defaults and merging, and a table of broken specs with the exact message."""

import textwrap
from pathlib import Path

import pytest
from conftest import lines

from fluxgen.errors import SpecError
from fluxgen.spec import parse_spec

HEAD = "apps:\n"
CHART = "  - name: web\n    chart: {repository: https://charts.example.com, name: web}\n"


def parse(text: str, base: Path = Path(".")) -> list[dict]:
    return parse_spec(textwrap.dedent(text), "fluxgen.yaml", base).apps


def problems(text: str, base: Path = Path(".")) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(text, base)
    return lines(caught.value.problems)


def test_builtin_defaults_fill_what_the_spec_leaves_out():
    [app] = parse(HEAD + CHART)
    assert (app["namespace"], app["interval"], app["targetNamespace"]) == ("flux-system", "5m", "web")


def test_defaults_block_sits_between_builtins_and_the_app():
    [first, second] = parse("""
        defaults: {namespace: apps, interval: 10m, git: {url: https://git.example.com/fleet, branch: dev}}
        apps:
          - {name: a, kustomize: {path: a}}
          - {name: b, kustomize: {path: b}, interval: 1h, namespace: other}
    """)
    assert (first["namespace"], first["interval"], first["git"]["branch"]) == ("apps", "10m", "dev")
    assert (second["namespace"], second["interval"]) == ("other", "1h")


def test_a_ref_on_the_app_replaces_the_default_ref_whole():
    [app] = parse("""
        defaults: {git: {url: https://git.example.com/fleet, branch: dev}}
        apps: [{name: a, kustomize: {path: a}, git: {tag: v1.2.0}}]
    """)
    assert app["git"] == {"url": "https://git.example.com/fleet", "tag": "v1.2.0"}


def test_git_branch_defaults_to_main_and_another_url_drops_the_default_name():
    [app] = parse("""
        defaults: {git: {url: https://git.example.com/fleet, name: flux-system}}
        apps: [{name: a, kustomize: {path: a}, git: {url: https://git.example.com/other}}]
    """)
    assert app["git"] == {"url": "https://git.example.com/other", "branch": "main"}


def test_null_target_namespace_stays_unset_and_numbers_keep_their_text():
    [app] = parse("""
        apps: [{name: a, targetNamespace: null, chart: {repository: https://c.example.com, name: a, version: 1.10}}]
    """)
    assert app["targetNamespace"] is None
    assert app["chart"]["version"] == "1.10"


def test_values_files_merge_in_order_with_values_on_top(tmp_path):
    (tmp_path / "one.yaml").write_text("a: {x: 1, y: 1}\nlist: [1]\n")
    (tmp_path / "two.yaml").write_text("a: {y: 2}\nlist: [2]\n")
    [app] = parse(HEAD + CHART + "    valuesFiles: [one.yaml, two.yaml]\n    values: {a: {z: 3}}\n", tmp_path)
    assert app["values"] == {"a": {"x": 1, "y": 2, "z": 3}, "list": [2]}


BROKEN = {
    "empty file": ("", ["fluxgen.yaml: is empty; it needs at least `apps:` with one app"]),
    "not a mapping": ("- a\n", ["fluxgen.yaml:1: must be a mapping with `apps:` (and optionally `defaults:`)"]),
    "no apps": ("apps: []\n", ["fluxgen.yaml:1: apps: needs at least 1 item(s)"]),
    "apps missing": ("defaults: {}\n", ["fluxgen.yaml:1: apps: required field"]),
    "wrong apiVersion": ("apiVersion: fluxgen/v2\n" + HEAD + CHART,
                         ["fluxgen.yaml:1: apiVersion: must be 'fluxgen/v1'"]),
    "unknown key with suggestion": (HEAD + CHART + "    valus: {}\n",
                                    ["fluxgen.yaml:4: apps[0].valus: unknown field; did you mean 'values'?"]),
    "unknown top-level key": ("app: []\n" + HEAD + CHART, ["fluxgen.yaml:1: app: unknown field; did you mean 'apps'?"]),
    "duplicate key": (HEAD + "  - name: web\n    name: api\n",
                      ["fluxgen.yaml:3: apps[0].name: duplicate key (first on line 2)"]),
    "two documents": (HEAD + CHART + "---\n" + HEAD + CHART,
                      ["fluxgen.yaml:4: holds more than one YAML document; fluxgen reads exactly one"]),
    "duplicate app names": (HEAD + CHART + CHART,
                            ["fluxgen.yaml:4: apps[1].name: apps[0] is already the HelmRelease 'web' of namespace flux-system"]),
    "name not a DNS label": (HEAD + "  - name: Web_1\n    chart: {repository: https://c.example.com, name: w}\n",
                             ["fluxgen.yaml:2: apps[0].name: must be a DNS-1123 label: lowercase letters, digits "
                              "and '-', starting and ending with a letter or digit (Flux's ${VAR} substitutions "
                              "allowed)"]),
    "name too long": (HEAD + f"  - name: {'a' * 64}\n    kustomize: {{path: x}}\n",
                      ["fluxgen.yaml:2: apps[0].name: must be at most 63 characters long"]),
    "release name too long": (HEAD + f"  - name: {'a' * 54}\n    chart: {{repository: https://c.example.com, name: w}}\n",
                              ["fluxgen.yaml:2: apps[0].name: is longer than the 53 characters Helm allows for a "
                               "release name; set releaseName"]),
    "both chart and kustomize": (HEAD + CHART + "    kustomize: {path: x}\n",
                                 ["fluxgen.yaml:2: apps[0]: set exactly one of chart or chartRef or kustomize"]),
    "neither chart nor kustomize": (HEAD + "  - name: web\n",
                                    ["fluxgen.yaml:2: apps[0]: set exactly one of chart or chartRef or kustomize"]),
    "chart without name": (HEAD + "  - name: web\n    chart: {repository: https://c.example.com}\n",
                           ["fluxgen.yaml:3: apps[0].chart.repository: needs 'name' as well"]),
    "empty chart": (HEAD + "  - name: web\n    chart: {}\n",
                    ["fluxgen.yaml:3: apps[0].chart: needs repository and name (a chart from a repository), "
                     "path (a chart kept in Git), or sourceRef (a source in sources:)"]),
    "chart repository and path": (
        "defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
        + "  - name: web\n    chart: {repository: https://c.example.com, name: w, path: x}\n",
        ["fluxgen.yaml:4: apps[0].chart.name: cannot be combined with 'path'",
         "fluxgen.yaml:4: apps[0].chart.repository: cannot be combined with 'path'"]),
    "version on a chart from Git": (
        "defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
        + "  - name: web\n    chart: {path: x, version: 1.0.0}\n",
        ["fluxgen.yaml:4: apps[0].chart.version: cannot be combined with 'path'"]),
    "version as a list": (HEAD + "  - name: web\n    chart: {repository: https://c.example.com, name: w, version: [1]}\n",
                          ["fluxgen.yaml:3: apps[0].chart.version: must be a string"]),
    "http chart url wrong scheme": (HEAD + "  - name: web\n    chart: {repository: ftp://c.example.com, name: w}\n",
                                    ["fluxgen.yaml:3: apps[0].chart.repository: must start with https://, "
                                     "http:// or oci://"]),
    "oci url with a tag": (HEAD + "  - name: web\n    chart: {repository: 'oci://ghcr.io/org/web:1.0', name: w}\n",
                           ["fluxgen.yaml:3: apps[0].chart.repository: must not carry a tag or digest; put the "
                            "version in chart.version"]),
    "day interval": (HEAD + CHART + "    interval: 1d\n",
                     ["fluxgen.yaml:4: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m "
                      "(Flux has no 'd' unit: write 24h)"]),
    "interval as number": (HEAD + CHART + "    interval: 5\n",
                           ["fluxgen.yaml:4: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m "
                            "(Flux has no 'd' unit: write 24h)"]),
    "scp git url": ("defaults: {git: {url: 'git@github.com:org/fleet.git'}}\n" + HEAD
                    + "  - name: a\n    kustomize: {path: a}\n",
                    ["fluxgen.yaml:1: defaults.git.url: scp-style Git addresses are not valid in Flux; write "
                     "ssh://git@github.com/org/fleet.git"]),
    "git url wrong scheme": ("defaults: {git: {url: 'file:///srv/git'}}\n" + HEAD + "  - name: a\n    kustomize: {path: a}\n",
                             ["fluxgen.yaml:1: defaults.git.url: must start with https://, http:// or ssh://"]),
    "kept in Git without a repository": (HEAD + "  - name: a\n    kustomize: {path: a}\n",
                                         ["fluxgen.yaml:2: apps[0]: is kept in Git but has no git.url (set it here "
                                          "or in defaults.git)"]),
    "two refs": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
                 + "  - name: a\n    kustomize: {path: a}\n    git: {branch: main, tag: v1}\n",
                 ["fluxgen.yaml:5: apps[0].git.tag: give one Git ref (branch, tag, semver or commit; commit may join "
                  "a branch), not branch and tag"]),
    "commit with a tag": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
                          + "  - name: a\n    kustomize: {path: a}\n    git: {tag: v1, commit: abc123}\n",
                          ["fluxgen.yaml:5: apps[0].git.commit: give one Git ref (branch, tag, semver or commit; "
                           "commit may join a branch), not tag and commit"]),
    "two refs in defaults point at defaults": (
        "defaults:\n  git:\n    url: https://g.example.com/r\n    branch: main\n    semver: '1.x'\n" + HEAD
        + "  - name: a\n    kustomize: {path: a}\n",
        ["fluxgen.yaml:5: apps[0].git.semver: give one Git ref (branch, tag, semver or commit; commit may join "
         "a branch), not branch and semver"]),
    "absolute path": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD + "  - name: a\n    kustomize: {path: /etc}\n",
                      ["fluxgen.yaml:4: apps[0].kustomize.path: must be a path inside the Git repository "
                       "(no leading '/', no '..' out of it)"]),
    "path climbing out": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
                          + "  - name: a\n    kustomize: {path: apps/../../x}\n",
                          ["fluxgen.yaml:4: apps[0].kustomize.path: must be a path inside the Git repository "
                           "(no leading '/', no '..' out of it)"]),
    "values on a kustomize app": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD
                                  + "  - name: a\n    kustomize: {path: a}\n    values: {x: 1}\n",
                                  ["fluxgen.yaml:5: apps[0].values: applies to chart apps (a HelmRelease field), "
                                   "and this is a kustomize app"]),
    "values not a mapping": (HEAD + CHART + "    values: [1]\n", ["fluxgen.yaml:4: apps[0].values: must be a mapping"]),
    "depends on a missing app": (HEAD + CHART + "    dependsOn: [wbe]\n",
                                 ["fluxgen.yaml:4: apps[0].dependsOn[0]: no app is named 'wbe'; did you mean 'web'? "
                                  "(for a HelmRelease that is not in this spec, write {name: wbe, namespace: ...})"]),
    "depends on another kind": ("defaults: {git: {url: https://g.example.com/r}}\n" + HEAD + CHART
                                + "    dependsOn: [k]\n  - name: k\n    kustomize: {path: k}\n",
                                ["fluxgen.yaml:5: apps[0].dependsOn[0]: 'k' is a Kustomization; a HelmRelease can only "
                                 "depend on HelmReleases (use healthChecks or wait for other kinds)"]),
    "depends on itself": (HEAD + CHART + "    dependsOn: [web]\n",
                          ["fluxgen.yaml:4: apps[0].dependsOn[0]: an app cannot depend on itself"]),
    "dependency cycle": (HEAD + CHART + "    dependsOn: [api]\n"
                         + "  - name: api\n    chart: {repository: https://charts.example.com, name: api}\n"
                         + "    dependsOn: [web]\n",
                         ["fluxgen.yaml:7: apps[1].dependsOn: dependency cycle: web -> api -> web"]),
    "dependency of the wrong form": (HEAD + CHART + "    dependsOn: [{nme: x}]\n",
                                     ["fluxgen.yaml:4: apps[0].dependsOn[0]: must be the name of an app, or "
                                      "{name: ..., namespace: ...}"]),
    "one name for two sources": (HEAD + CHART.replace("name: web}", "name: web, repositoryName: one}")
                                 + "  - name: api\n    chart: {repository: https://other.example.com, name: api, "
                                   "repositoryName: one}\n",
                                 ["fluxgen.yaml:5: apps[1].chart.repositoryName: 'one' already names a different "
                                  "HelmRepository (apps[0]); give this one another name"]),
    "python tag": (HEAD + "  - name: !!python/object/apply:os.system [ls]\n",
                   ["fluxgen.yaml:2: apps[0].name: the tag tag:yaml.org,2002:python/object/apply:os.system is not "
                    "allowed here"]),
    "missing values file": (HEAD + CHART + "    valuesFiles: [nope.yaml]\n",
                            ["fluxgen.yaml:4: apps[0].valuesFiles[0]: nope.yaml does not exist"]),
    "integer beyond int64": (HEAD + CHART + "    values:\n      big: 9223372036854775808\n",
                             ["fluxgen.yaml:5: apps[0].values.big: 9223372036854775808 does not fit in 64 bits, so "
                              "Kubernetes would store another number; quote it to keep it as text"]),
    "package on a chart from a repository": (HEAD + CHART + "    package: manifests\n",
                                             ["fluxgen.yaml:4: apps[0].package: builds a chart kept in Git; give "
                                              "chart.path (where the chart goes in the Git repository) instead of "
                                              "chart.repository"]),
}


@pytest.mark.parametrize("text, expected", BROKEN.values(), ids=BROKEN.keys())
def test_broken_spec_is_refused_with_the_place_named(text, expected):
    assert problems(text) == expected


def test_every_problem_is_reported_at_once_in_line_order():
    found = problems(HEAD + "  - name: A\n    chart: {repository: https://c.example.com, name: a}\n"
                            "    interval: 1d\n    bogus: 1\n")
    assert [p.split(":")[1] for p in found] == ["2", "4", "5"]


def test_values_file_errors_name_that_file(tmp_path):
    (tmp_path / "v.yaml").write_text("a: 1\na: 2\n")
    assert problems(HEAD + CHART + "    valuesFiles: [v.yaml]\n", tmp_path) == [
        f"{tmp_path / 'v.yaml'}:2: a: duplicate key (first on line 1)"]


def test_credentials_in_values_draw_a_warning_and_references_to_secrets_do_not(tmp_path):
    (tmp_path / "prod.yaml").write_text("smtp: {password: from-a-file}\n")
    spec = parse_spec(textwrap.dedent("""\
        apps:
          - name: db
            chart: {repository: https://charts.example.com, name: db}
            valuesFiles: [prod.yaml]
            values:
              auth: {password: hunter2, existingSecret: db-auth, passwordKey: pw, username: app}
              apiKey: abc123
              keys: {api-key: a, private-key: b, access-key: c, client-key-data: d}
              tls: {key: "-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n", secretName: tls}
              env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}, {password: p}]
              tolerations: [{key: dedicated, operator: Equal, value: db}]
              podAnnotations: {secret.reloader.stakater.com/reload: db-auth}
              cert-manager-secret-namespace: cert-manager
              postgres: {password: "${SECRET_PG_PASSWORD}"}
              metrics: {enabled: true, token: ""}
    """), "fluxgen.yaml", tmp_path)
    assert lines(spec.warnings) == [
        f"fluxgen.yaml:{line}: apps[0].values.{path}: looks like a credential{origin}; keep it out of Git: put it "
        f"in a Secret and use valuesFrom: [{{kind: Secret, name: ..., valuesKey: ..., targetPath: {path}}}]"
        for line, path, origin in (
            (5, "smtp.password", " (from valuesFiles)"), (6, "auth.password", ""), (7, "apiKey", ""),
            (8, "keys.access-key", ""), (8, "keys.api-key", ""), (8, "keys.client-key-data", ""),
            (8, "keys.private-key", ""), (9, "tls.key", ""), (10, "env[1].password", ""))]
