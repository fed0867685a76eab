"""`package:` as users run it: the chart passes the real `helm lint --strict`, and the real
`helm template` and `kubectl kustomize` give back exactly the manifests that went in; the knobs
change exactly their field; bad folders end in clean errors naming the file."""

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import TOOLS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen.output import dump_all

MANIFESTS = Path(__file__).parent / "manifests"
FOLDERS = sorted(p.name for p in MANIFESTS.iterdir() if p.is_dir())
SPEC = """\
defaults:
  git: {url: https://github.com/org/fleet.git}
apps:
  - name: my-chart
    chart: {path: apps/my-chart}
    package: manifests
  - name: my-overlay
    kustomize: {path: apps/my-overlay}
    package: manifests
"""


def tool(kube_env, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOLS / args[0]), *args[1:]], cwd=cwd, env=kube_env, capture_output=True, text=True,
                          timeout=120)


def fluxgen(kube_env, *args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl-fluxgen", *args], cwd=cwd, env=kube_env, capture_output=True, text=True,
                          timeout=120)


def read_objects(folder: Path) -> dict:
    """The objects of a manifest folder as Kubernetes reads them: {(kind, name): object}."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
        docs = [json.loads(path.read_text())] if path.suffix == ".json" else yaml.safe_load_all(path.read_text())
        for doc in docs:
            for obj in (doc["items"] if doc and doc.get("kind") == "List" else [doc] if doc else []):
                found[(obj["kind"], obj["metadata"]["name"])] = obj
    return found


class _GoYAML(yaml.SafeLoader):
    """Reads a plain `=` as the string Go's YAML libraries (kubectl, kustomize) take it for;
    PyYAML alone reads it as YAML 1.1's obsolete `value` tag."""


_GoYAML.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def stream_objects(text: str) -> dict:
    docs = [d for d in yaml.load_all(text, Loader=_GoYAML) if d]
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(objects) == len(docs), "an object came out twice"
    return objects


@pytest.fixture
def project(tmp_path, kube_env):
    """Render SPEC over a copy of `manifests/<name>` and return (project folder, chart, overlay)."""
    def make(name: str, spec: str = SPEC):
        shutil.copytree(MANIFESTS / name, tmp_path / "manifests")
        (tmp_path / "fluxgen.yaml").write_text(spec)
        result = fluxgen(kube_env, "render", "--output-dir", "out", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return tmp_path, tmp_path / "out/apps/my-chart", tmp_path / "out/apps/my-overlay"
    return make


@pytest.mark.parametrize("name", FOLDERS)
def test_helm_lint_strict_passes_and_helm_template_gives_back_the_manifests(name, project, kube_env):
    root, chart, _ = project(name)
    lint = tool(kube_env, "helm", "lint", "--strict", str(chart))
    assert lint.returncode == 0 and "[WARNING]" not in lint.stdout and "[ERROR]" not in lint.stdout, lint.stdout
    rendered = tool(kube_env, "helm", "template", "my-chart", str(chart), "--include-crds")
    assert rendered.returncode == 0, rendered.stderr
    assert stream_objects(rendered.stdout) == read_objects(root / "manifests")


@pytest.mark.parametrize("name", FOLDERS)
def test_kubectl_kustomize_gives_back_the_manifests(name, project, kube_env):
    root, _, overlay = project(name)
    built = tool(kube_env, "kubectl", "kustomize", str(overlay))
    assert built.returncode == 0, built.stderr
    assert stream_objects(built.stdout) == read_objects(root / "manifests")


def _changed(before: dict, after: dict, path=()) -> list:
    """Paths of every field that differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [p for key in sorted(set(before) | set(after), key=str)
                for p in _changed(before.get(key), after.get(key), path + (key,))]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i, (b, a) in enumerate(zip(before, after)) for p in _changed(b, a, path + (i,))]
    return [] if before == after else [path]


def test_each_helm_knob_changes_exactly_its_field(project, kube_env):
    _, chart, _ = project("hostile")
    default = stream_objects(tool(kube_env, "helm", "template", "x", str(chart)).stdout)
    changed = stream_objects(tool(
        kube_env, "helm", "template", "x", str(chart), "--set", "web.replicas=5",
        "--set", "web.containers.web.image.tag=2.0.0", "--set", "db.containers.init.image.digest=sha256:ab",
        "--set-json", 'db.containers.postgres.resources={"limits":{"memory":"2Gi"}}').stdout)
    web_container = ("spec", "template", "spec", "containers", 0)
    assert {key: _changed(default[key], changed[key]) for key in default if default[key] != changed[key]} == {
        ("Deployment", "web"): [("spec", "replicas"), web_container + ("image",)],
        ("StatefulSet", "db"): [("spec", "template", "spec", "containers", 0, "resources"),
                                ("spec", "template", "spec", "initContainers", 0, "image")],
    }
    assert changed[("Deployment", "web")]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "registry.example.com:5000/team/web:2.0.0"
    assert changed[("StatefulSet", "db")]["spec"]["template"]["spec"]["initContainers"][0]["image"] == \
        "docker.io/library/busybox@sha256:ab"


def test_each_kustomize_knob_changes_exactly_its_field(project, kube_env):
    _, _, overlay = project("hostile")
    default = stream_objects(tool(kube_env, "kubectl", "kustomize", str(overlay)).stdout)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for image in kustomization["images"]:
        if image["name"] == "postgres":
            image["newTag"] = "17.0"
    for entry in kustomization["replicas"]:
        if entry["name"] == "web":
            entry["count"] = 7
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    changed = stream_objects(tool(kube_env, "kubectl", "kustomize", str(overlay)).stdout)
    assert {key: _changed(default[key], changed[key]) for key in default if default[key] != changed[key]} == {
        ("Deployment", "web"): [("spec", "replicas")],
        ("StatefulSet", "db"): [("spec", "template", "spec", "containers", 0, "image")],
    }


def test_the_chart_names_its_main_image_and_keeps_flux_files_out(project, kube_env):
    _, chart, _ = project("podinfo")
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert (meta["apiVersion"], meta["name"], meta["appVersion"]) == ("v2", "my-chart", "6.7.1")
    assert {"helmrelease.yaml", "gitrepository.yaml"} <= set((chart / ".helmignore").read_text().split())
    assert (chart / "helmrelease.yaml").exists()  # written beside the chart ...
    packaged = tool(kube_env, "helm", "package", str(chart), "-d", str(chart.parent))
    assert packaged.returncode == 0, packaged.stderr
    with tarfile.open(chart.parent / "my-chart-0.1.0.tgz") as packed:
        listing = packed.getnames()
    assert "my-chart/helmrelease.yaml" not in listing  # ... but not part of it
    assert "my-chart/templates/deployment-podinfo.yaml" in listing


def test_rendering_again_gives_the_same_bytes_and_hand_edits_survive(project, kube_env):
    root, chart, _ = project("podinfo")
    files = {p: p.read_bytes() for p in (root / "out").rglob("*") if p.is_file()}
    again = fluxgen(kube_env, "render", "--output-dir", "out", cwd=root)
    assert again.returncode == 0 and {p: p.read_bytes() for p in files} == files
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("tag: 6.7.1", "tag: 6.7.2"))
    (root / "manifests/service.yaml").unlink()  # a change that would rewrite the chart
    kept = fluxgen(kube_env, "render", "--output-dir", "out", cwd=root)
    assert kept.returncode == 1 and "out/apps/my-chart/values.yaml" in kept.stderr and kept.stdout == ""
    assert "tag: 6.7.2" in values.read_text() and (chart / "templates/service-podinfo.yaml").exists()
    forced = fluxgen(kube_env, "render", "--output-dir", "out", "--force", cwd=root)
    assert forced.returncode == 0, forced.stderr
    assert "tag: 6.7.1" in values.read_text() and not (chart / "templates/service-podinfo.yaml").exists()


def test_without_output_dir_the_objects_are_printed_and_the_packages_named(project, kube_env):
    root, _, _ = project("hostile")
    result = fluxgen(kube_env, "render", cwd=root)
    assert result.returncode == 0
    assert [d["kind"] for d in yaml.safe_load_all(result.stdout)] == ["Namespace", "GitRepository", "HelmRelease",
                                                                          "Kustomization"]
    assert "not written: the package of my-chart (15 files for apps/my-chart/); use --output-dir" in result.stderr
    assert "warning: manifests: Secret db-credentials holds data" in result.stderr


BAD_FOLDERS = {
    "not yaml": ({"a.yaml": "kind: [unclosed\n"},
                 ["manifests/a.yaml:2: while parsing a flow sequence, did not find expected ',' or ']'"]),
    "not json": ({"a.json": "{\"kind\": }"}, ["manifests/a.json:1: not valid JSON: Expecting value"]),
    "no apiVersion": ({"a.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
                      ["manifests/a.yaml:1: this ConfigMap object has no apiVersion"]),
    "no name in the second document": (
        {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\n"},
        ["manifests/a.yaml:5: this ConfigMap object has no metadata.name"]),
    "not an object": ({"a.yaml": "- just\n- a list\n"},
                      ["manifests/a.yaml:1: is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"]),
    "same kind and name twice": (
        {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
         "sub/b.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n"},
        ["manifests/sub/b.yml:1: ConfigMap 'a' is also defined in manifests/a.yaml:1 (one object per kind and name)"]),
    "duplicate key": ({"a.yaml": "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n"},
                      ["manifests/a.yaml:3: kind: duplicate key (first on line 2)"]),
    "no manifests at all": ({"README.md": "# nothing here\n"},
                            ["manifests: holds no Kubernetes manifests (.yaml, .yml, .json files)"]),
    "not UTF-8": ({"a.yaml": b"apiVersion: v1\nkind: \xff\n"},
                  ["manifests/a.yaml:2: not UTF-8 text (byte 0xff at offset 21)"]),
}


@pytest.mark.parametrize("files, expected", BAD_FOLDERS.values(), ids=BAD_FOLDERS.keys())
def test_bad_manifests_are_refused_naming_the_file(files, expected, tmp_path, kube_env):
    for name, content in files.items():
        path = tmp_path / "manifests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "fluxgen.yaml").write_text(SPEC)
    result = fluxgen(kube_env, "render", "--output-dir", "out", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == expected
    assert not (tmp_path / "out").exists()


def test_package_folders_must_exist_and_charts_must_live_in_git(tmp_path, kube_env):
    (tmp_path / "fluxgen.yaml").write_text(
        "defaults: {git: {url: https://github.com/org/fleet.git}}\napps:\n"
        "  - {name: a, kustomize: {path: apps/a}, package: missing}\n"
        "  - {name: b, chart: {repository: https://c.example.com, name: b}, package: .}\n"
        "  - {name: c, kustomize: {path: apps/c}, package: .}\n"
        "  - {name: d, chart: {path: ./apps/c/}, package: .}\n")
    result = fluxgen(kube_env, "validate", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "fluxgen.yaml:3: apps[0].package: missing is not a folder of manifests",
        "fluxgen.yaml:4: apps[1].package: builds a chart kept in Git; give chart.path (where the chart goes in the "
        "Git repository) instead of chart.repository",
        "fluxgen.yaml:6: apps[3].package: apps[2] packages into apps/c already, and this app's apps/c would overlap "
        "it; give this app another path",
    ]


# ---- folders nobody wrote by hand -----------------------------------------------------------------

awkward_text = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    st.sampled_from(["{{ .Values.x }}", "{{", "}}", "{{- end }}", "y", "no", "on", "~", "null", "0755", "1e3",
                     "12:30", "- a", "a: b", "#x", "'", '"', "line\nline", "  lead", "trail  ", "\ttab", "%", "@x"]))
name = st.from_regex(r"\A[a-z]([a-z0-9-]{0,10}[a-z0-9])?\Z")
image = st.builds(lambda host, repo, tag, digest: f"{host}{repo}{tag}{digest}",
                  st.sampled_from(["", "docker.io/", "registry.local:5000/", "ghcr.io/org/"]), name,
                  st.sampled_from(["", ":1.0", ":1.10", ":v2.3.4-rc.1", ":latest"]),
                  st.sampled_from(["", "@sha256:" + "a" * 64]))
config_map = st.builds(lambda n, data: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}, "data": data},
                       name, st.dictionaries(st.from_regex(r"\A[a-zA-Z0-9._-]{1,12}\Z"), awkward_text, max_size=4))
deployment = st.builds(
    lambda n, images, replicas, env: {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": n},
        "spec": {**({"replicas": replicas} if replicas is not None else {}),
                 "selector": {"matchLabels": {"app": n}},
                 "template": {"metadata": {"labels": {"app": n}}, "spec": {"containers": [
                     {"name": f"c{i}", "image": img, "env": [{"name": "V", "value": env}]}
                     for i, img in enumerate(images)]}}}},
    name, st.lists(image, min_size=1, max_size=3), st.one_of(st.none(), st.integers(0, 50)), awkward_text)
quantity = st.one_of(st.sampled_from(["100m", "1", "0.5", "1Gi", "512Mi", "1e3"]), st.integers(0, 2**40),
                     st.sampled_from([0.5, 1.25]))
resources = st.one_of(st.none(), st.just({}), st.fixed_dictionaries(
    {}, optional={"limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), quantity, min_size=1),
                  "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), quantity, min_size=1)}))


def _container(name: str, image_ref: str, res) -> dict:
    return {"name": name, "image": image_ref, **({} if res is None else {"resources": res})}


cron_job = st.builds(
    lambda n, img, res, init: {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": n},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [_container("job", img, res)],
            **({"initContainers": [_container("init", init, None)]} if init else {})}}}}}},
    name, image, resources, st.one_of(st.none(), image))
manifest_sets = st.lists(st.one_of(config_map, deployment, cron_job), min_size=1, max_size=6,
                         unique_by=lambda o: (o["kind"], o["metadata"]["name"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objects=manifest_sets)
def test_generated_manifests_round_trip_through_helm_and_kustomize(objects, tmp_path_factory, kube_env):
    root = tmp_path_factory.mktemp("generated")
    (root / "manifests").mkdir()
    # written as kubectl reads it: PyYAML's safe_dump would leave `name: y` plain, which Go reads as true
    (root / "manifests/all.yaml").write_text(dump_all(objects))
    (root / "fluxgen.yaml").write_text(SPEC)
    result = fluxgen(kube_env, "render", "--output-dir", "out", cwd=root)
    assert result.returncode == 0, result.stderr
    expected = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    helm = tool(kube_env, "helm", "template", "x", str(root / "out/apps/my-chart"))
    assert helm.returncode == 0, helm.stderr
    assert stream_objects(helm.stdout) == expected
    kustomize = tool(kube_env, "kubectl", "kustomize", str(root / "out/apps/my-overlay"))
    assert kustomize.returncode == 0, kustomize.stderr
    assert stream_objects(kustomize.stdout) == expected


def _workload(kind: str, name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def test_workloads_whose_names_collide_get_values_of_their_own(tmp_path, kube_env):
    (tmp_path / "manifests").mkdir()
    objects = [_workload("Deployment", "web-statefulset", "a:1"), _workload("Deployment", "web", "b:1"),
               _workload("StatefulSet", "web", "c:1")]
    (tmp_path / "manifests" / "all.yaml").write_text(dump_all(objects))
    (tmp_path / "fluxgen.yaml").write_text(SPEC)
    assert fluxgen(kube_env, "render", "--output-dir", "out", cwd=tmp_path).returncode == 0
    chart = tmp_path / "out/apps/my-chart"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert list(values) == ["web-statefulset", "web-deployment", "web-statefulset-2"]
    for key, changed in (("web-statefulset", ("Deployment", "web-statefulset")), ("web-deployment", ("Deployment", "web")),
                         ("web-statefulset-2", ("StatefulSet", "web"))):
        out = stream_objects(tool(kube_env, "helm", "template", "x", str(chart), "--set", f"{key}.replicas=9").stdout)
        assert {k for k, obj in out.items() if obj["spec"]["replicas"] == 9} == {changed}


def test_an_overlay_image_entry_retags_only_its_own_repository(tmp_path, kube_env):
    (tmp_path / "manifests").mkdir()
    objects = [_workload("Deployment", "a", "registry.local/app:1.0"),
               _workload("Deployment", "b", "registry-local/app:2.0")]
    (tmp_path / "manifests" / "all.yaml").write_text(dump_all(objects))
    (tmp_path / "fluxgen.yaml").write_text(SPEC)
    assert fluxgen(kube_env, "render", "--output-dir", "out", cwd=tmp_path).returncode == 0
    overlay = tmp_path / "out/apps/my-overlay"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kustomization["images"] == [{"name": "registry\\.local/app", "newTag": "1.0"},
                                       {"name": "registry-local/app", "newTag": "2.0"}]
    kustomization["images"][0]["newTag"] = "9.9"
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = stream_objects(tool(kube_env, "kubectl", "kustomize", str(overlay)).stdout)
    images = {name: obj["spec"]["template"]["spec"]["containers"][0]["image"] for (_, name), obj in built.items()}
    assert images == {"a": "registry.local/app:9.9", "b": "registry-local/app:2.0"}
