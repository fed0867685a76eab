"""clusters: one spec for every cluster. The bundled examples/clusters/fluxgen.yaml is the Flux
project's multi-cluster example (fluxcd/flux2-kustomize-helm-example, pinned in
tests/upstream.lock); these tests compare what Flux applies from that commit with what fluxgen
prints for each cluster and with what Flux applies from the tree `render --output-dir` writes."""

import shutil
import subprocess
import sys
from pathlib import Path

import crds
import pytest
import upstream
import yaml
from click.testing import CliRunner
from conftest import TOOLS
from flux_tree import flux_applies, key, normalized

from fluxgen.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/clusters/fluxgen.yaml"
FLUX_EXAMPLE = "fluxcd/flux2-kustomize-helm-example/a484a05e9270cb8e4b56a1e4a8f60e66c7923fc6"
BOOTSTRAP = {("GitRepository", "flux-system", "flux-system"), ("Kustomization", "flux-system", "flux-system")}
CLUSTERS = ["staging", "production"]


def run(*args, cwd=None):
    return CliRunner().invoke(cli, list(args), prog_name="kubectl fluxgen", catch_exceptions=False) \
        if cwd is None else subprocess.run([sys.executable, "-m", "fluxgen", *args], cwd=cwd, capture_output=True,
                                           text=True)


def printed(spec: Path, cluster: str) -> dict:
    result = run("render", "-f", str(spec), "--cluster", cluster)
    assert result.exit_code == 0, result.stderr
    return {key(doc): doc for doc in yaml.safe_load_all(result.stdout)}


def upstream_objects(flux_tree, cluster: str) -> dict:
    """What Flux applies from clusters/CLUSTER of the example, but the objects flux bootstrap made."""
    return {k: applied for k, applied in flux_tree(FLUX_EXAMPLE, f"clusters/{cluster}").items() if k not in BOOTSTRAP}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_render_cluster_prints_what_flux_applies_from_that_cluster(flux_tree, cluster):
    ours = printed(EXAMPLE, cluster)
    theirs = upstream_objects(flux_tree, cluster)
    assert sorted(ours) == sorted(theirs)
    for k, obj in ours.items():
        assert normalized(obj) == normalized(theirs[k].obj), k
        assert crds.problems(obj) == [], k


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """The example's repository as `render --output-dir` writes it into a repository where `flux
    bootstrap` already wrote clusters/NAME/flux-system and the hand-written ClusterIssuers live."""
    repo = tmp_path_factory.mktemp("repo")
    original = upstream.tree(FLUX_EXAMPLE)
    for folder in ["infrastructure/configs"] + [f"clusters/{name}/flux-system" for name in CLUSTERS]:
        shutil.copytree(original / folder, repo / folder)
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(repo))
    assert result.exit_code == 0, result.stderr
    return repo


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_flux_applies_the_same_objects_from_the_written_tree_by_the_same_kustomizations(
        flux_tree, written, tmp_path, cluster):
    ours = {k: applied for k, applied in flux_applies(written, f"clusters/{cluster}", tmp_path,
                                                      str(TOOLS / "kubectl")).items() if k not in BOOTSTRAP}
    theirs = upstream_objects(flux_tree, cluster)
    assert sorted(ours) == sorted(theirs)
    for k, applied in ours.items():
        assert applied.by == theirs[k].by, k
        assert normalized(applied.obj) == normalized(theirs[k].obj), k


def test_each_difference_between_the_clusters_is_written_once():
    doc = yaml.safe_load(EXAMPLE.read_text())
    staging, production = (doc["clusters"][name]["apps"] for name in CLUSTERS)
    assert sorted(staging) == ["podinfo"]
    assert sorted(production) == ["apps", "infra-configs", "podinfo"]
    assert printed(EXAMPLE, "staging")[("Kustomization", "flux-system", "apps")]["spec"]["path"] == "./apps/staging"


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_renders_write_the_same_bytes(tmp_path):
    for name in ("one", "two"):
        assert run("render", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / name)).exit_code == 0
    assert files_of(tmp_path / "one") == files_of(tmp_path / "two")
    assert "clusters/staging/apps/flux-kustomization.yaml" in files_of(tmp_path / "one")


def test_a_change_for_one_cluster_rewrites_only_its_file_and_hand_edits_stay_protected(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text())
    out = tmp_path / "repo"
    assert run("render", "-f", str(spec), "--output-dir", str(out)).exit_code == 0
    before = files_of(out)
    spec.write_text(EXAMPLE.read_text().replace('version: ">=1.0.0"}', 'version: ">=6.0.0"}'))
    result = run("render", "-f", str(spec), "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    after = files_of(out)
    changed = sorted(path for path in after if after[path] != before.get(path))
    assert changed == [".fluxgen.sum", "apps/production/podinfo/helmrelease.yaml"]
    assert "wrote 1 file(s)" in result.stderr and "16 unchanged" in result.stderr

    edited = out / "apps/staging/podinfo/helmrelease.yaml"
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    spec.write_text(EXAMPLE.read_text().replace("tag: 7.0.6", "tag: 7.0.7"))
    result = run("render", "-f", str(spec), "--output-dir", str(out))
    assert result.exit_code == 1
    assert "apps/staging/podinfo/helmrelease.yaml" in result.stderr and "edited by hand" in result.stderr
    assert edited.read_text().endswith("# tuned by hand\n")
    assert files_of(out)["apps/production/podinfo/helmrelease.yaml"] == after["apps/production/podinfo/helmrelease.yaml"]


def test_printing_needs_a_cluster_and_names_them():
    result = run("render", "-f", str(EXAMPLE))
    assert result.exit_code == 2 and result.stdout == ""
    assert "staging, production" in result.stderr and "--cluster NAME" in result.stderr
    result = run("render", "-f", str(EXAMPLE), "--cluster", "prod")
    assert result.exit_code == 2 and result.stdout == ""
    assert "no such cluster (it has staging, production)" in result.stderr
    result = run("render", "-f", str(EXAMPLE), "--cluster", "staging", "--output-dir", "x")
    assert result.exit_code == 2 and "leave out --cluster" in result.stderr


def test_validate_counts_the_objects_of_every_cluster():
    result = run("validate", "-f", str(EXAMPLE))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{EXAMPLE}: valid (staging: 9 Flux objects; production: 9 Flux objects)\n"


SPEC = """\
sources:
  - {kind: GitRepository, name: flux-system, namespace: flux-system, existing: true}
defaults:
  sourceRef: flux-system/flux-system
apps:
  - name: apps
    kustomize: {path: ./apps}
  - name: podinfo
    layer: apps
    chart: {repository: https://stefanprodan.github.io/podinfo, name: podinfo, version: 6.7.1}
clusters:
  staging:
    apps:
%s
  production: {}
"""


@pytest.mark.parametrize("change, expected", [
    ("      podnfo: {interval: 1m}",
     "fluxgen.yaml:14: clusters.staging.apps.podnfo: no app is named so; did you mean 'podinfo'?"),
    ("      podinfo: {intervl: 1m}", "fluxgen.yaml:14: clusters.staging.apps.podinfo.intervl: unknown field"),
    ("      podinfo:\n        chart: {version: [1]}", "fluxgen.yaml:15: clusters.staging.apps.podinfo.chart.version:"),
    ("      podinfo: {name: web}", "fluxgen.yaml:14: clusters.staging.apps.podinfo.name: an app keeps its name"),
])
def test_a_bad_change_for_a_cluster_is_an_error_at_its_line(tmp_path, change, expected):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(SPEC % change)
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_a_shared_layer_whose_objects_differ_between_clusters_is_an_error_with_the_fix(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(SPEC % "      podinfo: {chart: {version: 6.8.0}}")
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    assert "the layer apps applies apps on clusters staging and production, but its objects differ" in result.stderr
    assert "kustomize: {path: ./apps/production}" in result.stderr


def test_an_app_left_out_of_a_cluster_is_not_applied_there(tmp_path, kube_env):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text((SPEC % "      podinfo: false").replace("kustomize: {path: ./apps}",
                                                              "kustomize: {path: ./apps/default}")
                    .replace("  production: {}", "  production:\n    apps: {apps: {kustomize: {path: ./apps/prod}}}"))
    assert run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path).returncode == 0
    staging = flux_applies(tmp_path / "out", "clusters/staging", tmp_path / "s", str(TOOLS / "kubectl"))
    production = flux_applies(tmp_path / "out", "clusters/production", tmp_path / "p", str(TOOLS / "kubectl"))
    assert sorted(staging) == [("Kustomization", "flux-system", "apps")]
    assert ("HelmRelease", "flux-system", "podinfo") in production
    assert production[("HelmRelease", "flux-system", "podinfo")].by == ("flux-system", "apps")


def test_an_app_left_out_of_a_cluster_whose_layer_folder_is_shared_is_an_error(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(SPEC % "      podinfo: false")
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    assert "the layer apps applies apps on clusters staging and production, but its objects differ" in result.stderr


def test_a_layer_folder_lists_its_files_and_an_empty_one_lists_none(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    empty = (SPEC % "      podinfo: false").replace("  production: {}", "  production:\n    apps: {podinfo: false}")
    spec.write_text(empty)
    assert run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path).returncode == 0
    placeholder = tmp_path / "out/apps/kustomization.yaml"
    assert "resources: []" in placeholder.read_text()
    assert sorted(flux_applies(tmp_path / "out", "clusters/staging", tmp_path / "s", str(TOOLS / "kubectl"))) == [
        ("Kustomization", "flux-system", "apps")]
    spec.write_text(SPEC % "")
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(placeholder.read_text())["resources"] == ["podinfo/helmrelease.yaml",
                                                                   "podinfo/helmrepository.yaml",
                                                                   "podinfo/namespace.yaml"]
    applied = flux_applies(tmp_path / "out", "clusters/staging", tmp_path / "s2", str(TOOLS / "kubectl"))
    assert applied[("HelmRelease", "flux-system", "podinfo")].by == ("flux-system", "apps")


def test_a_layer_keeps_its_objects_in_their_namespaces(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text((SPEC % "").replace("kustomize: {path: ./apps}", "kustomize: {path: ./apps}\n    targetNamespace: web"))
    result = run("render", "-f", "fluxgen.yaml", "--cluster", "staging", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert ("fluxgen.yaml:10: apps[1].layer: the layer apps has targetNamespace web, so Flux would move podinfo out of "
            "namespace flux-system into web") in result.stderr
    spec.write_text(SPEC % "")
    objects = yaml.safe_load_all(run("render", "-f", "fluxgen.yaml", "--cluster", "staging", cwd=tmp_path).stdout)
    layer = next(obj for obj in objects if obj["kind"] == "Kustomization")
    assert layer["metadata"]["name"] == "apps" and "targetNamespace" not in layer["spec"]


INIT = ["init", "--scenario", "chart", "--name", "redis", "--namespace", "cache", "--repository",
        "oci://registry-1.docker.io/bitnamicharts", "--chart", "redis", "--chart-version", "20.0.0"]


def test_init_adds_an_app_to_one_cluster_and_leaves_it_out_of_the_others(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    before = (SPEC % "      podinfo: {interval: 1m}  # faster here") + "  dev: {}   # a test cluster\n  qa:\n"
    spec.write_text(before)
    result = run(*INIT, "--cluster", "production", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "added redis to fluxgen.yaml (cluster production)" in result.stderr
    after = spec.read_text()
    assert after.replace("      redis: false\n", "", 1).replace("  dev: # a test cluster\n    apps: {redis: false}\n",
                                                                 "  dev: {}   # a test cluster\n").replace(
        "  qa:\n    apps: {redis: false}\n", "  qa:\n").replace("  production:\n    apps: {redis: false}\n",
                                                              "  production: {}\n").split("  - name: redis")[0] \
        == before.split("clusters:")[0]
    for cluster, present in [("staging", False), ("production", True), ("dev", False), ("qa", False)]:
        out = run("render", "-f", "fluxgen.yaml", "--cluster", cluster, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert (("HelmRelease", "cache", "redis") in {key(d) for d in yaml.safe_load_all(out.stdout)}) is present


def test_init_without_a_cluster_adds_to_every_cluster_and_an_unknown_one_is_a_usage_error(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(SPEC % "      podinfo: {interval: 1m}")
    result = run(*INIT, "--cluster", "prod", cwd=tmp_path)
    assert result.returncode == 2 and "--cluster prod: the spec has no such cluster (it has staging, production)" \
        in result.stderr
    result = run(*INIT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "added redis to fluxgen.yaml (every cluster: staging, production)" in result.stderr
    for cluster in ("staging", "production"):
        out = run("render", "-f", "fluxgen.yaml", "--cluster", cluster, cwd=tmp_path).stdout
        assert ("HelmRelease", "cache", "redis") in {key(d) for d in yaml.safe_load_all(out)}


NESTED = """\
sources:
  - {kind: GitRepository, name: flux-system, namespace: flux-system, existing: true}
defaults:
  sourceRef: flux-system/flux-system
apps:
  - name: cluster-apps
    kustomize: {path: ./kubernetes/apps}
  - name: web
    layer: cluster-apps
    kustomize: {path: ./kubernetes/apps/web/app}
  - name: web
    layer: web
    chart: {repository: https://stefanprodan.github.io/podinfo, name: podinfo, version: 6.7.1}
clusters:
  main: {path: kubernetes/clusters/main}
"""


def test_layers_nest_as_in_most_flux_repositories_and_each_applies_only_its_own_files(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(NESTED)
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    applied = flux_applies(tmp_path / "out", "kubernetes/clusters/main", tmp_path / "w", str(TOOLS / "kubectl"))
    assert {k: a.by for k, a in applied.items()} == {
        ("Kustomization", "flux-system", "cluster-apps"): ("flux-system", "flux-system"),
        ("Kustomization", "flux-system", "web"): ("flux-system", "cluster-apps"),
        ("HelmRelease", "flux-system", "web"): ("flux-system", "web"),
        ("HelmRepository", "flux-system", "podinfo"): ("flux-system", "web")}


def test_an_object_that_would_land_in_another_layers_folder_is_an_error(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(NESTED.replace("./kubernetes/apps/web/app", "./kubernetes/apps/web"))
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    assert ("kubernetes/apps/web/flux-kustomization.yaml: web belongs to the layer cluster-apps (kubernetes/apps/), "
            "but the file would lie in the folder of the layer at kubernetes/apps/web/") in result.stderr


def test_a_sources_entry_with_a_layer_is_applied_by_that_layer(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(NESTED.replace(
        "  - {kind: GitRepository, name: flux-system, namespace: flux-system, existing: true}\n",
        "  - {kind: GitRepository, name: flux-system, namespace: flux-system, existing: true}\n"
        "  - {kind: HelmRepository, name: charts, namespace: flux-system, url: https://stefanprodan.github.io/podinfo,"
        " layer: cluster-apps}\n").replace("chart: {repository: https://stefanprodan.github.io/podinfo,",
                                           "chart: {sourceRef: charts,"))
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    applied = flux_applies(tmp_path / "out", "kubernetes/clusters/main", tmp_path / "w", str(TOOLS / "kubectl"))
    assert applied[("HelmRepository", "flux-system", "charts")].by == ("flux-system", "cluster-apps")
    assert applied[("HelmRelease", "flux-system", "web")].by == ("flux-system", "web")


# Found by a hostile pass: each of these exited 0 with a tree Flux would get wrong, or crashed.
@pytest.mark.parametrize("change, message", [
    ("  production:\n    apps: {apps: {kustomize: {path: ./clusters/staging}}}",
     "clusters/staging (cluster staging) lies inside clusters/staging (the layer apps)"),
    ("  production:\n    path: clusters/staging/prod",
     "clusters/staging/prod (cluster production) lies inside clusters/staging (cluster staging)"),
])
def test_folders_of_one_cluster_never_take_over_another(tmp_path, change, message):
    (tmp_path / "fluxgen.yaml").write_text((SPEC % "      podinfo: {interval: 1m}").replace("  production: {}", change))
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    assert message in result.stderr or message.split(" (")[0] in result.stderr, result.stderr
    assert "lies inside" in result.stderr


def test_a_plain_kustomization_holding_a_layer_folder_is_an_error(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text((SPEC % "      podinfo: {interval: 1m}").replace(
        "  - name: podinfo\n", "  - name: everything\n    kustomize: {path: ./}\n  - name: podinfo\n"))
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1 and "(the Kustomization everything): Flux would apply its files twice" in result.stderr


@pytest.mark.parametrize("clusters, expected", [
    ("clusters: {}\n", "fluxgen.yaml:11: clusters: names no cluster"),
    ("clusters:\n  staging: {path: .}\n", "fluxgen.yaml:12: clusters.staging.path: must be a folder below the"),
    ("clusters:\n  staging: {path: clusters/../x}\n", "fluxgen.yaml:12: clusters.staging.path: must be a folder"),
])
def test_clusters_that_name_no_folder_are_errors_at_their_line(tmp_path, clusters, expected):
    (tmp_path / "fluxgen.yaml").write_text(SPEC.split("clusters:")[0] + clusters)
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert result.returncode == 1 and expected in result.stderr, result.stderr


def test_null_in_a_cluster_change_removes_an_inherited_key_and_never_crashes(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(
        "defaults: {git: {url: https://github.com/org/fleet, tag: v1.0.0}}\napps:\n  - name: k\n"
        "    kustomize: {path: ./a}\nclusters:\n  staging: {apps: {k: {git: {tag: null, branch: dev}}}}\n"
        "  production: {apps: {k: {kustomize: {path: null}}}}\n")
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "fluxgen.yaml:7: clusters.production.apps.k.kustomize.path: required field"
    (tmp_path / "fluxgen.yaml").write_text(
        (tmp_path / "fluxgen.yaml").read_text().replace("{kustomize: {path: null}}", "{interval: 1m}"))
    staging = run("render", "-f", "fluxgen.yaml", "--cluster", "staging", cwd=tmp_path)
    assert {"branch": "dev"} == next(d for d in yaml.safe_load_all(staging.stdout)
                                     if d["kind"] == "GitRepository")["spec"]["ref"]


def test_a_layer_moving_an_apps_source_out_of_its_namespace_is_an_error(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text((SPEC % "      podinfo: {interval: 1m}").replace(
        "kustomize: {path: ./apps}", "kustomize: {path: ./apps}\n    targetNamespace: web").replace(
        "    layer: apps\n", "    layer: apps\n    namespace: web\n    sourceNamespace: flux-system\n"))
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "so Flux would move the source of podinfo out of namespace flux-system into web" in result.stderr


def test_a_cluster_folder_with_its_own_kustomization_yaml_gets_a_warning(tmp_path):
    (tmp_path / "out/clusters/staging").mkdir(parents=True)
    (tmp_path / "out/clusters/staging/kustomization.yaml").write_text("resources: [flux-system]\n")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0
    assert ("clusters/staging/kustomization.yaml: Flux builds only what this file lists, so it applies what fluxgen "
            "writes to clusters/staging/ only if it lists apps, infra-configs, infra-controllers") in result.stderr


def test_init_refuses_to_leave_a_same_name_app_out_and_never_edits_through_anchors(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(SPEC % "      podinfo: {interval: 1m}")
    result = run(*[arg if arg != "redis" else "apps" for arg in INIT], "--cluster", "staging", cwd=tmp_path)
    assert result.returncode == 2 and "apps already names an app of the spec" in result.stderr
    anchored = SPEC.split("clusters:")[0] + "clusters:\n  staging: &common\n    apps: {podinfo: {interval: 1m}}\n" \
                                            "  production: *common\n"
    spec.write_text(anchored)
    result = run(*INIT, "--cluster", "staging", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "by hand" in result.stderr
    assert spec.read_text() == anchored


def test_init_keeps_crlf_line_ends_when_it_rewrites_a_cluster(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_bytes((SPEC % "      podinfo: {interval: 1m}").replace("\n", "\r\n").encode())
    result = run(*INIT, "--cluster", "staging", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"  production:\r\n    apps: {redis: false}\r\n" in spec.read_bytes()
    assert b"\n" not in spec.read_bytes().replace(b"\r\n", b"")


def test_layers_without_clusters_write_a_folder_per_app(tmp_path):
    spec = (SPEC % "").split("clusters:")[0].replace("path: ./apps}", "path: ./deploy}")
    (tmp_path / "fluxgen.yaml").write_text(spec)
    result = run("render", "-f", "fluxgen.yaml", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.yaml")) == [
        "apps/flux-kustomization.yaml", "deploy/kustomization.yaml", "deploy/podinfo/helmrelease.yaml",
        "deploy/podinfo/helmrepository.yaml", "deploy/podinfo/namespace.yaml"]


def test_a_change_can_name_one_of_several_apps_that_share_a_name(tmp_path):
    spec = SPEC.replace("  - name: podinfo\n    layer: apps\n", "  - name: apps\n    layer: apps\n") % \
        "      HelmRelease/apps: {interval: 1m}\n      Kustomization/flux-system/apps: {interval: 2m}"
    (tmp_path / "fluxgen.yaml").write_text(spec)
    result = run("render", "-f", "fluxgen.yaml", "--cluster", "staging", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    intervals = {doc["kind"]: doc["spec"]["interval"] for doc in yaml.safe_load_all(result.stdout)
                 if doc["metadata"]["name"] == "apps" and doc["kind"] != "Namespace"}
    assert intervals == {"HelmRelease": "1m", "Kustomization": "2m"}
    (tmp_path / "fluxgen.yaml").write_text(spec.replace("Kustomization/flux-system/apps", "Kustomization/web/apps"))
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "clusters.staging.apps.Kustomization/web/apps: no app is named so" in result.stderr


def test_a_key_that_is_only_a_kind_names_no_app(tmp_path):
    """`HelmRelease:` alone under a cluster's apps was a crash (found by comparing versions)."""
    (tmp_path / "fluxgen.yaml").write_text("apps:\n  - {name: redis, chart: {repository: 'https://charts.example.com', "
                                           "name: redis}}\nclusters:\n  dev:\n    apps:\n      HelmRelease: "
                                           "{interval: 1m}\n")
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "fluxgen.yaml:6: clusters.dev.apps.HelmRelease: no app is named "
                                                     "so\n")


@pytest.mark.parametrize("name, valid", [("runner-${CLUSTER}", True), ("${APP:=web}", True), ("runner-${", False),
                                         ("Runner-${CLUSTER}", False), ("runner-${CLUSTER}-", False)])
def test_names_may_hold_flux_substitutions(tmp_path, name, valid):
    (tmp_path / "fluxgen.yaml").write_text(
        f"apps:\n  - name: '{name}'\n    chart: {{repository: https://stefanprodan.github.io/podinfo, name: podinfo}}\n")
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert (result.returncode == 0) is valid, result.stderr


def test_a_problem_only_some_clusters_have_names_them(tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(
        "apps:\n  - name: redis\n    chart: {repository: https://charts.bitnami.com/bitnami, name: redis}\n"
        "  - name: podinfo\n    chart: {repository: https://stefanprodan.github.io/podinfo, name: podinfo}\n"
        "clusters:\n  staging: {}\n  production:\n    defaults: {dependsOn: [redis]}\n    apps: {redis: false}\n")
    result = run("validate", "-f", "fluxgen.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("no app is named 'redis' (for a HelmRelease that is not in this spec, write "
                                          "{name: redis, namespace: ...}) (on cluster production)")
