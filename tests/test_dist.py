"""Installing like a kubectl and Flux plugin: `make dist` is reproducible, the manifests in the
repository describe exactly that archive and pass krew's and Flux's rules, and the archive,
installed the way krew installs it, runs under the real kubectl with an interpreter that has no
third-party packages. Rules cite ../shared/notes/plugins.md."""

import fnmatch
import gzip
import hashlib
import io
import os
import posixpath
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import TOOLS

from fluxgen import __version__

ROOT = Path(__file__).resolve().parent.parent
KREW = yaml.safe_load((ROOT / "krew-manifest.yaml").read_text())
FLUX = yaml.safe_load((ROOT / "plugin.yaml").read_text())
EXAMPLE = ROOT / "examples" / "fluxgen.yaml"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """The archive `make dist` builds, built twice; `--check` fails when the manifests are stale."""
    built = []
    for _ in range(2):
        out = tmp_path_factory.mktemp("dist")
        result = subprocess.run([sys.executable, str(ROOT / "packaging/dist.py"), "--out", str(out), "--check"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr + result.stdout
        built.append((out / f"fluxgen-plugin-v{__version__}.tar.gz").read_bytes())
    assert built[0] == built[1], "two builds of one commit differ"
    return built[0]


def test_both_manifests_carry_the_checksum_of_the_archive_built_from_this_commit(archive):
    digest = hashlib.sha256(archive).hexdigest()
    assert [p["sha256"] for p in KREW["spec"]["platforms"]] == [digest]
    assert {p["checksum"] for v in FLUX["versions"] for p in v["platforms"]} == {f"sha256:{digest}"}


def test_versions_agree_krew_with_v_flux_and_python_without():
    assert KREW["spec"]["version"] == f"v{__version__}"
    assert FLUX["versions"][0]["version"] == __version__
    assert f"/v{__version__}/" in KREW["spec"]["platforms"][0]["uri"]


# ---- krew: plugins.md §1.1-1.3 and the guidelines of §1.8 ------------------------------------------

SUPPORTED = [("windows", a) for a in ("386", "amd64", "arm64")] + \
    [("linux", a) for a in ("386", "amd64", "arm", "arm64", "ppc64le")] + \
    [("darwin", a) for a in ("386", "amd64", "arm64")]
KREW_SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
                         r"(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def _matches(selector: dict, labels: dict) -> bool:
    """metav1.LabelSelector matching, for os/arch labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        if (op == "In" and value not in expr["values"]) or (op == "NotIn" and value in expr["values"]) \
                or (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def test_krew_manifest_has_only_the_fields_krew_knows():  # §1.1: krew drops unknown keys silently
    assert set(KREW) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(KREW["spec"]) <= {"version", "shortDescription", "description", "caveats", "homepage", "platforms"}
    for platform in KREW["spec"]["platforms"]:
        assert set(platform) <= {"uri", "sha256", "selector", "files", "bin"}
        assert all(set(f) == {"from", "to"} for f in platform.get("files") or [])


def test_krew_manifest_passes_every_validation_rule():  # §1.2, in krew's order
    spec = KREW["spec"]
    assert KREW["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert KREW["kind"] == "Plugin"
    name = KREW["metadata"]["name"]
    assert re.fullmatch(r"[\w-]+", name, re.ASCII) and name.lower() not in WINDOWS_RESERVED
    assert name == "fluxgen"
    assert spec["shortDescription"] and not re.search(r"[\r\n]", spec["shortDescription"])
    assert spec["platforms"]
    assert KREW_SEMVER.match(spec["version"])
    for platform in spec["platforms"]:
        assert platform["uri"]
        assert re.fullmatch(r"[a-f0-9]{64}", platform["sha256"])
        assert platform["bin"]
        files = platform.get("files")
        assert files is None or (files and all(f["from"] and f["to"] for f in files))
        selector = platform["selector"]
        assert selector and (selector.get("matchLabels") or selector.get("matchExpressions"))
        assert selector.get("matchLabels", {"os": 1}) != {} and selector.get("matchExpressions", [1]) != []
        keys = set(selector.get("matchLabels", {})) | {e["key"] for e in selector.get("matchExpressions", [])}
        assert keys <= {"os", "arch"}


def test_krew_manifest_passes_validate_krew_manifest_platform_checks():  # §1.3
    matched = [[pair for pair in SUPPORTED if _matches(p["selector"], {"os": pair[0], "arch": pair[1]})]
               for p in KREW["spec"]["platforms"]]
    assert all(matched), "a selector matches no supported platform"
    every = [pair for pairs in matched for pair in pairs]
    assert len(every) == len(set(every)), "overlapping selectors"
    assert not any(os_name == "windows" for os_name, _ in every)  # a zipapp needs python3; Windows uses pip


def test_krew_manifest_follows_the_guidelines():  # §1.8 item 4
    spec = KREW["spec"]
    assert len(spec["shortDescription"]) <= 50
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", KREW["metadata"]["name"])
    assert spec["description"] and spec["homepage"].startswith("https://")
    assert "pip" in spec["caveats"] and "Windows" in spec["caveats"] and "python3" in spec["caveats"]
    for platform in spec["platforms"]:
        assert any(f["from"] == "LICENSE" for f in platform["files"])
        assert all(posixpath.normpath(f["to"]) == f["to"] for f in platform["files"])


def test_the_archive_is_what_krew_and_flux_can_install(archive):  # §1.4 and §1.8 item 5
    assert archive[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
        assert all(m.isfile() for m in members), "krew handles regular files only"
        assert all(not m.name.startswith(("/", "\\")) and ".." not in m.name.split("/") for m in members)
        names = {m.name: m for m in members}
        platform = KREW["spec"]["platforms"][0]
        assert names[platform["bin"]].mode & 0o111 and "LICENSE" in names
        assert all(fnmatch.filter(names, f["from"]) for f in platform["files"])
        assert all(p["extractPath"] in names for v in FLUX["versions"] for p in v["platforms"])
        programs = {tar.extractfile(names[n]).read() for n in ("kubectl-fluxgen", "flux-fluxgen")}
        assert len(programs) == 1 and programs.pop().startswith(b"#!/usr/bin/env python3\n")
        assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 1577836800)}
    assert gzip.GzipFile(fileobj=io.BytesIO(archive)).read()  # a whole gzip stream


# ---- Flux CLI plugin catalog: plugins.md §2.1 ---------------------------------------------------------

FLUX_BUILTINS = {"bootstrap", "build", "catalog", "check", "completion", "create", "debug", "delete", "diff",
                 "envsubst", "events", "export", "get", "help", "install", "list", "logs", "migrate", "plugin", "pull",
                 "push", "reconcile", "resume", "stats", "suspend", "tag", "trace", "tree", "uninstall", "version"}


def test_plugin_yaml_passes_the_flux_catalog_schema_rules():
    assert set(FLUX) == {"apiVersion", "kind", "name", "description", "homepage", "source", "bin", "versions"}
    assert (FLUX["apiVersion"], FLUX["kind"]) == ("cli.fluxcd.io/v1beta1", "Plugin")
    assert re.fullmatch(r"[a-z][a-z0-9-]*", FLUX["name"]) and FLUX["name"] not in FLUX_BUILTINS
    assert FLUX["description"] and FLUX["homepage"].startswith("https://") and FLUX["source"].startswith("https://")
    assert re.fullmatch(r"[a-z][a-z0-9-]*", FLUX["bin"]) and FLUX["bin"] == f"flux-{FLUX['name']}"
    assert FLUX["versions"]
    for version in FLUX["versions"]:
        assert set(version) == {"version", "platforms"}
        assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+(-.+)?", version["version"])
        assert version["platforms"]
        for platform in version["platforms"]:
            assert set(platform) <= {"os", "arch", "url", "checksum", "extractPath"}
            assert platform["os"] in {"darwin", "linux"}  # windows would get .exe appended: not for a zipapp
            assert platform["arch"] in {"amd64", "arm64"}
            assert platform["url"].startswith("https://")
            assert re.fullmatch(r"sha256:[a-f0-9]{64}", platform["checksum"])
            assert platform["extractPath"]
    order = [(p["os"], p["arch"]) for p in FLUX["versions"][0]["platforms"]]
    assert order == sorted(order)  # the catalog's order: darwin before linux, amd64 before arm64


# ---- installed as krew installs it, run by the real kubectl, with no third-party packages ---------

@pytest.fixture(scope="module")
def krew_root(archive, tmp_path_factory, kube_env) -> tuple[Path, dict]:
    """KREW_ROOT after `kubectl krew install`: the archive unpacked into store/, the files
    operations applied, bin linked into KREW_ROOT/bin; and an environment whose python3 is a
    venv without pip or site-packages."""
    root = tmp_path_factory.mktemp("krew")
    unpacked = root / "download"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(unpacked, filter="data")
    store = root / "store" / "fluxgen" / KREW["spec"]["version"]
    store.mkdir(parents=True)
    platform = KREW["spec"]["platforms"][0]
    for operation in platform["files"]:
        for match in fnmatch.filter(os.listdir(unpacked), operation["from"]):
            (unpacked / match).rename(store / operation["to"] / match)
    (root / "bin").mkdir()
    (root / "bin" / "kubectl-fluxgen").symlink_to(store / platform["bin"])
    (root / "bin" / "kubectl_complete-fluxgen").symlink_to(store / "kubectl_complete-fluxgen")  # as the caveat says
    bare = root / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    env = dict(kube_env, PATH=os.pathsep.join([str(root / "bin"), str(bare / "bin"), str(TOOLS), "/usr/bin", "/bin"]))
    no_yaml = subprocess.run(["python3", "-c", "import yaml"], env=env, capture_output=True, text=True)
    assert no_yaml.returncode == 1 and "No module named 'yaml'" in no_yaml.stderr
    return root, env


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=60)


def test_kubectl_runs_the_krew_installed_plugin_with_no_site_packages(krew_root, kubectl):
    _, env = krew_root
    result = run(env, "kubectl", "fluxgen", "render", "-f", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stdout == kubectl("fluxgen", "render", "-f", str(EXAMPLE)).stdout  # same as the pip install
    assert run(env, "kubectl", "fluxgen", "version").stdout == f"fluxgen: v{__version__}\n"


def test_kubectl_plugin_list_shows_fluxgen_without_warnings(krew_root):
    root, env = krew_root
    result = run(env, "kubectl", "plugin", "list")
    assert result.returncode == 0, result.stderr
    assert str(root / "bin" / "kubectl-fluxgen") in result.stdout
    assert "warning" not in (result.stdout + result.stderr).lower()


def test_kubectl_completes_commands_flags_and_file_names_through_the_plugin(krew_root):
    _, env = krew_root
    assert run(env, "kubectl", "__complete", "fluxgen", "re").stdout.splitlines()[:2] == [
        "render\tPrint (or write) the Flux objects for a spec.", ":4"]
    flags = run(env, "kubectl", "__complete", "fluxgen", "render", "--output").stdout
    assert "--output\t" in flags and "--output-dir\t" in flags
    assert run(env, "kubectl", "__complete", "fluxgen", "render", "-o", "").stdout.splitlines()[:3] == \
        ["yaml", "json", ":4"]
    assert run(env, "kubectl", "__complete", "fluxgen", "render", "-f", "").stdout.splitlines()[0] == ":0"  # files
    assert run(env, "kubectl", "__complete", "fluxgen", "render", "--output-dir", "").stdout.splitlines()[0] == ":16"


def test_flux_fluxgen_works_from_a_flux_plugin_folder(archive, krew_root, tmp_path):
    """What `flux` does (plugins.md §2.1): find flux-<name> in $FLUXCD_PLUGINS, follow a symlink,
    exec it with the arguments; and ask it `__complete` for completions."""
    _, env = krew_root
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extract("flux-fluxgen", tmp_path / "release", filter="data")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flux-fluxgen").symlink_to(tmp_path / "release" / "flux-fluxgen")
    found = [p for p in plugins.iterdir() if p.name.startswith("flux-") and p.resolve().is_file()
             and os.access(p, os.X_OK)]
    assert [p.name[len("flux-"):] for p in found] == ["fluxgen"]
    help_text = run(env, str(found[0]), "render", "--help").stdout
    assert help_text.startswith("Usage: flux fluxgen render [OPTIONS]")
    assert run(env, str(found[0]), "__complete", "ren").stdout.splitlines()[0].startswith("render\t")
    assert run(env, str(found[0]), "render", "-f", str(EXAMPLE)).returncode == 0
