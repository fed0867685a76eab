"""import: a public Flux repository -> fluxgen.yaml -> the same Flux objects, by the same
Kustomizations. Each repository is pinned in tests/upstream.lock; flux_tree.py is the oracle
(it builds each Kustomization as kustomize-controller does, independently of fluxgen's own
import code)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import crds
import pytest
import upstream
import yaml
from apiserver import Emulator
from conftest import TOOLS
from flux_tree import flux_applies, key, normalized

FLUX_EXAMPLE = "fluxcd/flux2-kustomize-helm-example/a484a05e9270cb8e4b56a1e4a8f60e66c7923fc6"
ZHORVATH83 = "zhorvath83/home-ops/3ca71f04382acd0ea2bb1bac4704e00de6beb634"
JORYIRVING = "joryirving/home-ops/0560f711e5993b5d905fc835f985d6e16c75c6bf"
BOOTSTRAP = {("GitRepository", "flux-system", "flux-system"), ("Kustomization", "flux-system", "flux-system")}
REPOSITORIES = {
    FLUX_EXAMPLE: {"staging": "clusters/staging", "production": "clusters/production"},
    ZHORVATH83: {"main": "kubernetes/flux/cluster"},
    JORYIRVING: {"main": "kubernetes/clusters/main", "test": "kubernetes/clusters/test",
                 "utility": "kubernetes/clusters/utility"},
}


def fluxgen(*args, cwd=None, env=None, input=None):
    env = dict(env or os.environ, PATH=os.pathsep.join([str(TOOLS), os.environ["PATH"]]))
    return subprocess.run([sys.executable, "-m", "fluxgen", *args], cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict:
    """repository -> (the imported spec's path, standard error), each imported once."""
    done = {}
    for repository, clusters in REPOSITORIES.items():
        args = [arg for name, folder in clusters.items() for arg in ("--cluster", f"{name}={folder}")]
        result = fluxgen("import", *args, cwd=upstream.tree(repository))
        assert result.returncode == 0, result.stderr
        spec = tmp_path_factory.mktemp("imported") / "fluxgen.yaml"
        spec.write_text(result.stdout)
        done[repository] = (spec, result.stderr)
    return done


def as_written(applied: dict) -> dict:
    """What Flux applies, without the bootstrap's own objects, and without the labels and
    annotations the commonMetadata of the applying Kustomization adds (fluxgen writes that
    commonMetadata on the Kustomization, where Flux adds it again)."""
    common = {(a.obj["metadata"]["namespace"], a.obj["metadata"]["name"]): a.obj["spec"].get("commonMetadata", {})
              for a in applied.values() if a.obj["kind"] == "Kustomization"}
    result = {}
    for k, a in applied.items():
        if k in BOOTSTRAP:
            continue
        obj = json.loads(json.dumps(a.obj))
        for field, added in common.get(a.by, {}).items():
            own = {n: v for n, v in obj["metadata"].get(field, {}).items() if added.get(n) != v}
            obj["metadata"].pop(field, None)
            obj["metadata"] |= {field: own} if own else {}
        result[k] = obj
    return result


def compare(flux_tree, repository: str, spec: Path, cluster: str) -> tuple[set, set, set]:
    """(equal, different, missing or extra) keys of `render --cluster` against what Flux applies."""
    theirs = as_written(flux_tree(repository, REPOSITORIES[repository][cluster]))
    result = fluxgen("render", "-f", str(spec), "--cluster", cluster)
    assert result.returncode == 0, result.stderr
    ours = {key(doc): doc for doc in yaml.safe_load_all(result.stdout)}
    equal = {k for k in theirs.keys() & ours.keys() if normalized(ours[k]) == normalized(theirs[k])}
    return equal, (theirs.keys() & ours.keys()) - equal, theirs.keys() ^ ours.keys()


@pytest.mark.parametrize("cluster", ["staging", "production"])
def test_the_flux_example_round_trips_exactly(flux_tree, imported, cluster):
    spec, stderr = imported[FLUX_EXAMPLE]
    equal, different, unmatched = compare(flux_tree, FLUX_EXAMPLE, spec, cluster)
    assert (len(equal), different, unmatched) == (9, set(), set())
    assert stderr == ""


def test_a_fleet_of_178_objects_round_trips_exactly(flux_tree, imported):
    spec, stderr = imported[ZHORVATH83]
    equal, different, unmatched = compare(flux_tree, ZHORVATH83, spec, "main")
    assert (len(equal), different, unmatched) == (178, set(), set())
    assert stderr == ""


def test_three_clusters_from_a_shared_base_round_trip_but_for_what_is_reported(flux_tree, imported):
    """joryirving/home-ops: 658 objects on three clusters. What does not round trip is what import
    reports: a label no spec field holds, a source that differs between clusters and one that two
    clusters lack (sources: entries are the same on every cluster), and the path of the two
    Kustomizations whose shared folder the clusters patch differently (one folder per cluster)."""
    spec, stderr = imported[JORYIRVING]
    results = {cluster: compare(flux_tree, JORYIRVING, spec, cluster) for cluster in REPOSITORIES[JORYIRVING]}
    assert {cluster: len(equal) for cluster, (equal, _, _) in results.items()} == {
        "main": 423, "test": 73, "utility": 154}
    split = {("Kustomization", "actions-runner-system", "actions-runner-controller-runners"),
             ("Kustomization", "storage", "snapshot-controller")}  # their shared folder, one per cluster
    assert results["main"][1] == {("Kustomization", "llm", "toolhive-config")} | split
    assert results["test"][1] == results["utility"][1] == split
    assert "Kustomization storage/snapshot-controller: clusters main, test, utility share its folder" in stderr
    assert "Kustomization llm/toolhive-config (Kustomization flux-system/cluster-apps): metadata.labels cannot " \
           "be written" in stderr
    assert results["utility"][2] == {("OCIRepository", "observability", "drm-exporter"),
                                     ("GitRepository", "games", "fenrir")}
    assert "OCIRepository observability/drm-exporter differs between clusters" in stderr
    assert results["test"][2] == {("GitRepository", "games", "fenrir")}
    assert "GitRepository games/fenrir is not on cluster(s) test, utility" in stderr


@pytest.mark.parametrize("repository, copied", [(FLUX_EXAMPLE, []), (ZHORVATH83, ["kubernetes/components"])])
def test_flux_applies_the_same_objects_by_the_same_kustomizations_from_the_rendered_tree(
        flux_tree, imported, tmp_path, repository, copied):
    """`render --output-dir` into a folder holding only the hand-written kustomize components the
    Kustomizations name (they hold no Flux objects, so no spec can)."""
    spec, _ = imported[repository]
    out = tmp_path / "out"
    for folder in copied:
        shutil.copytree(upstream.tree(repository) / folder, out / folder)
    result = fluxgen("render", "-f", str(spec), "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    for cluster, folder in REPOSITORIES[repository].items():
        theirs = flux_tree(repository, folder)
        ours = flux_applies(out, folder, tmp_path / cluster, str(TOOLS / "kubectl"), missing=[])
        assert sorted(ours.keys() - BOOTSTRAP) == sorted(theirs.keys() - BOOTSTRAP)
        for k in theirs.keys() - BOOTSTRAP:
            assert ours[k].by == theirs[k].by, k
            assert normalized(ours[k].obj) == normalized(theirs[k].obj), k


def test_import_is_deterministic_validates_and_is_shorter_than_the_yaml_it_replaces(imported):
    spec, _ = imported[FLUX_EXAMPLE]
    again = fluxgen("import", "--cluster", "staging=clusters/staging", "--cluster", "production=clusters/production",
                    cwd=upstream.tree(FLUX_EXAMPLE))
    assert again.stdout == spec.read_text()
    assert fluxgen("validate", "-f", str(spec)).returncode == 0
    root = upstream.tree(FLUX_EXAMPLE)
    replaced = [p for p in root.rglob("*.yaml") if "flux-system" not in p.parts and "configs" not in p.parts]
    lines = sum(len([line for line in p.read_text().splitlines() if line.strip() and not line.startswith(("#", "---"))])
                for p in replaced)
    ours = len([line for line in spec.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")])
    assert ours < lines, (ours, lines)


def test_files_and_standard_input_import_as_one_cluster(tmp_path):
    root = upstream.tree(FLUX_EXAMPLE)
    files = fluxgen("import", "infrastructure/controllers", "clusters/production/infrastructure.yaml", cwd=root)
    assert files.returncode == 0, files.stderr
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(files.stdout)
    rendered = fluxgen("render", "-f", str(spec))
    assert rendered.returncode == 0, rendered.stderr
    ours = {key(doc): doc for doc in yaml.safe_load_all(rendered.stdout)}
    theirs = {key(doc): doc for path in ["infrastructure/controllers/cert-manager.yaml",
                                         "infrastructure/controllers/ingress-nginx.yaml",
                                         "clusters/production/infrastructure.yaml"]
              for doc in yaml.safe_load_all((root / path).read_text()) if doc and "fluxcd.io" in doc["apiVersion"]}
    assert sorted(ours) == sorted(theirs)
    for k, obj in ours.items():
        assert normalized(obj) == normalized(theirs[k]), k
        assert crds.problems(obj) == []
    piped = fluxgen("import", "-", input=(root / "infrastructure/controllers/cert-manager.yaml").read_text())
    assert piped.returncode == 0 and "name: cert-manager" in piped.stdout


def test_from_cluster_reads_live_objects_without_what_the_server_and_flux_add(tmp_path, kube_env):
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "podinfo", "namespace": "apps",
                            "labels": {"kustomize.toolkit.fluxcd.io/name": "apps",
                                       "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                            "managedFields": [{"manager": "kustomize-controller", "operation": "Apply"}],
                            "finalizers": ["finalizers.fluxcd.io"]},
               "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "podinfo"},
                        "values": {"replicaCount": 2}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 1}}
    source = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
              "metadata": {"name": "podinfo", "namespace": "apps"},
              "spec": {"interval": "1h", "url": "oci://ghcr.io/stefanprodan/charts/podinfo", "ref": {"tag": "6.7.1"}},
              "status": {"artifact": {"revision": "6.7.1@sha256:abc"}}}
    layer = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
             "metadata": {"name": "apps", "namespace": "flux-system"},
             "spec": {"interval": "10m", "path": "./apps", "prune": True,
                      "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}
    with Emulator() as server:
        for obj in (release, source, layer):
            server.add(obj)
        env = dict(kube_env, KUBECONFIG=str(server.kubeconfig(tmp_path / "kubeconfig")))
        result = fluxgen("import", "--from-cluster", "--request-timeout", "20s", env=env)
        assert server.writes() == []
    assert result.returncode == 0, result.stderr
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(result.stdout)
    for word in ("managedFields", "status", "uid", "resourceVersion", "last-applied", "finalizers"):
        assert word not in result.stdout
    assert "layer: apps" in result.stdout  # from the labels kustomize-controller put on the HelmRelease
    rendered = {key(doc): doc for doc in yaml.safe_load_all(fluxgen("render", "-f", str(spec)).stdout)}
    for obj in (release, source, layer):
        written = {k: v for k, v in obj.items() if k != "status"}
        written["metadata"] = {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]}
        assert normalized(rendered[key(obj)]) == normalized(written)


@pytest.mark.parametrize("args, files, message", [
    (["empty"], {"empty/values.yaml": "replicaCount: 2\n"}, "no Flux objects found in empty"),
    (["broken"], {"broken/x.yaml": "a: [\n"}, "broken/x.yaml:2:"),
    (["--cluster", "x=clusters/y"], {"clusters/x/a.yaml": "a: 1\n"}, "clusters/y is not a folder of the repository"),
    (["--cluster", "x=clusters/x"], {"clusters/x/kustomization.yaml": "resources: [../nothing]\n"},
     "cluster x: Kustomization flux-system/flux-system: kustomize build of ./clusters/x failed"),
    (["--cluster", "x"], {}, "--cluster 'x': write NAME=DIR"),
    (["--from-cluster", "apps"], {}, "--from-cluster reads the cluster: leave out PATH and --cluster"),
])
def test_bad_input_is_a_clear_error_and_prints_nothing(tmp_path, args, files, message):
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    result = fluxgen("import", *args, cwd=tmp_path)
    assert result.returncode in (1, 2) and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


KS = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: apps, namespace: flux-system}}
spec: {{interval: 10m, path: {path}, prune: true, sourceRef: {{kind: GitRepository, name: flux-system}}{extra}}}
"""
HR = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: {name}, namespace: flux-system}}
spec: {{interval: 5m, chartRef: {{kind: OCIRepository, name: podinfo}}}}
"""


def repository(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


# Found by a hostile pass: import wrote or read outside the repository, or built differently than Flux.
def test_import_never_writes_or_reads_outside_the_repository(tmp_path):
    outside = repository(tmp_path / "outside", {"secret.yaml": HR.format(name="stolen")})
    repo = repository(tmp_path / "repo", {"clusters/p/ks.yaml": KS.format(path="./apps/link", extra="")})
    (repo / "apps").mkdir()
    (repo / "apps/link").symlink_to(outside)
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 1 and "its path ./apps/link is not a folder of the repository" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["secret.yaml"]
    (repo / "apps/link").unlink()
    repository(repo, {"clusters/p/ks.yaml": KS.format(path="./apps", extra=""),
                      "apps/kustomization.yaml": f"resources: [{outside / 'secret.yaml'}]\n"})
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 1 and result.stdout == "" and "lies outside the repository" in result.stderr
    repository(repo, {"apps/kustomization.yaml": "resources:\n  - https://github.com/org/repo//apps?ref=main\n"})
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 1 and "is a remote base; import builds the repository only" in result.stderr
    repository(outside, {"kustomization.yaml": "kind: Component\napiVersion: kustomize.config.k8s.io/v1alpha1\n"
                                               "resources: [secret.yaml]\n"})
    repository(repo, {"apps/kustomization.yaml": "resources: []\n", "apps/web.yaml": HR.format(name="web"),
                      "clusters/p/ks.yaml": KS.format(path="./apps", extra=", components: [../../outside]")})
    (repo / "apps/kustomization.yaml").unlink()
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 1 and "its component ../../outside lies outside the repository" in result.stderr


def test_import_sees_the_repository_as_source_controller_ships_it(tmp_path):
    repo = repository(tmp_path / "repo", {
        "clusters/p/ks.yaml": KS.format(path="./apps", extra=""), "apps/web.yaml": HR.format(name="web"),
        "apps/.sops.yaml": "creation_rules: [{path_regex: .*}]\n", "apps/old/old.yaml": HR.format(name="old"),
        ".sourceignore": "# not shipped\napps/old/\n"})
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "name: web" in result.stdout and "name: old" not in result.stdout


def test_a_kustomizations_name_prefix_replaces_the_folders_own_as_in_flux(tmp_path):
    repo = repository(tmp_path / "repo", {
        "clusters/p/ks.yaml": KS.format(path="./apps", extra=", namePrefix: outer-"),
        "apps/kustomization.yaml": "namePrefix: inner-\nresources: [web.yaml]\n", "apps/web.yaml": HR.format(name="web")})
    result = fluxgen("import", "--cluster", "p=clusters/p", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "name: outer-web" in result.stdout and "inner-" not in result.stdout.split("apps:")[1]


def test_objects_fluxgen_cannot_write_are_reported_and_left_out_never_a_traceback(tmp_path):
    repo = repository(tmp_path, {"x.yaml": HR.format(name="web") + "---\n" + HR.format(name="a" * 60) +
                                 "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: Bucket\n"
                                 "metadata: {name: b, namespace: flux-system}\nspec: {bucketName: b, endpoint: e}\n"
                                 "---\n" + HR.format(name="bad").replace("chartRef: {kind: OCIRepository, name: podinfo}",
                                                                        "chartRef: podinfo")})
    result = fluxgen("import", "x.yaml", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert f"{'a' * 60}: left out, fluxgen cannot write it (is longer than the 53 characters" in result.stderr
    assert "Bucket flux-system/b (x.yaml:11): fluxgen does not write Bucket objects; left out" in result.stderr
    assert "HelmRelease bad (x.yaml:" in result.stderr and "is not a valid Flux object" in result.stderr
    assert "name: web" in result.stdout and "Traceback" not in result.stderr


def spec_lines(text: str) -> int:
    return len([line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")])


def test_the_imported_fleet_is_shorter_than_the_flux_yaml_it_replaces(imported):
    """Every line of every file that holds a Flux object of zhorvath83/home-ops (comments, blank
    lines and `---` aside) against the imported spec: shared settings go into defaults."""
    spec, _ = imported[ZHORVATH83]
    flux_files = [p for p in (upstream.tree(ZHORVATH83) / "kubernetes").rglob("*.yaml")
                  if "toolkit.fluxcd.io" in p.read_text()]
    theirs = sum(spec_lines(p.read_text().replace("\n---", "\n#")) for p in flux_files)
    assert spec_lines(spec.read_text()) < 0.85 * theirs, (spec_lines(spec.read_text()), theirs)


def test_the_three_cluster_fleet_gives_a_tree_flux_applies_but_for_what_is_reported(flux_tree, imported, tmp_path):
    """joryirving/home-ops written as a tree: the objects Flux applies from it, by the same
    Kustomizations, against the original. The rest: the two split layers' Kustomizations (path),
    objects whose applying Kustomization's components or appending patches act on them again
    (written as applied), and those of the label and sources reported above."""
    spec, _ = imported[JORYIRVING]
    out = tmp_path / "out"
    shutil.copytree(upstream.tree(JORYIRVING) / "kubernetes/components", out / "kubernetes/components")
    result = fluxgen("render", "-f", str(spec), "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    same = {}
    for cluster, folder in REPOSITORIES[JORYIRVING].items():
        theirs = flux_tree(JORYIRVING, folder)
        ours = flux_applies(out, folder, tmp_path / cluster, str(TOOLS / "kubectl"), missing=[])
        same[cluster] = sum(1 for k in theirs.keys() - BOOTSTRAP if k in ours and ours[k].by == theirs[k].by and
                            normalized(ours[k].obj) == normalized(theirs[k].obj))
    assert same == {"main": 366, "test": 71, "utility": 142}  # of 426, 75 and 157


def test_files_an_overlay_names_as_patches_are_not_read_as_objects():
    """apps/staging/podinfo-values.yaml patches the base HelmRelease; it is no second podinfo."""
    result = fluxgen("import", "apps", cwd=upstream.tree(FLUX_EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "podinfo-values.yaml" not in result.stderr and "also applied by" not in result.stderr
    assert yaml.safe_load(result.stdout)["apps"][0]["name"] == "podinfo"
