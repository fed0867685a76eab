"""What a hostile repository, a hostile environment or a crash half-way can do to fluxgen: never
anything outside the output folder, never a traceback, never a half-written tree."""

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from fluxgen.cli import cli

EXAMPLE = ROOT / "examples" / "fluxgen.yaml"
WEB = "apps:\n  - name: web\n    chart: {repository: https://charts.example.com, name: web}\n"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), prog_name="kubectl fluxgen", input=input)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the record and the staging folder are repository content: trust nothing in them ------------------

@pytest.mark.parametrize("listed", ["../outside.txt", "{outside}", "./../outside.txt", "a/../../outside.txt"])
def test_a_record_pointing_outside_the_folder_deletes_nothing(tmp_path, listed):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".fluxgen.sum").write_text(f"{sha(outside.read_bytes())}  {listed.format(outside=outside)}\n")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    assert outside.read_text() == "precious\n"
    assert "warning: " in result.stderr and "ignored a line that does not name a file fluxgen writes inside" in result.stderr
    assert listed.format(outside=outside) not in (out / ".fluxgen.sum").read_text()


def test_stale_files_behind_a_symlinked_folder_are_not_removed(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    (out / "podinfo").rename(outside)  # the same bytes fluxgen wrote, now behind a link
    (out / "podinfo").symlink_to(outside)
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text().replace("name: podinfo", "name: podinfo2"))
    result = run("render", "-f", str(spec), "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["helmrelease.yaml", "namespace.yaml", "ocirepository.yaml"]
    assert "removed" not in result.stderr


def test_a_planted_staging_folder_with_a_forged_journal_changes_nothing_it_did_not_write(tmp_path):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    (out / "README.md").write_text("the user's own file\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    before = tree(out)
    staging = out / ".fluxgen.tmp"
    staging.mkdir()
    (staging / "b0").write_text("attacker\n")
    forged = {"ops": [
        {"op": "write", "path": "README.md", "new": "n0", "backup": "b0", "sha": sha(b"something else\n"),
         "old": sha(b"attacker\n")},
        {"op": "remove", "path": "../outside.txt", "backup": "b1", "old": sha(b"precious\n")},
        {"op": "write", "path": "podinfo/helmrelease.yaml", "new": "n5", "backup": "../../outside.txt",
         "sha": "0", "old": None}], "folders": ["../.."]}
    (staging / "journal").write_text(json.dumps(forged))
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert outside.read_text() == "precious\n"
    assert tree(out) == before  # README.md kept its text, the generated files theirs
    assert result.exit_code in (0, 1) and "Traceback" not in result.stderr


@pytest.mark.parametrize("planted", ["file", "link"])
def test_a_staging_path_that_is_not_a_folder_fluxgen_made_is_refused(tmp_path, planted):
    out = tmp_path / "out"
    out.mkdir()
    if planted == "file":
        (out / ".fluxgen.tmp").write_text("x\n")
    else:
        (out / ".fluxgen.tmp").symlink_to(tmp_path)
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {out}/.fluxgen.tmp: is not a folder fluxgen made; remove it\n"
    assert list(tmp_path.iterdir()) == [out]


# ---- all or nothing, also when the process fails or dies half-way -----------------------------------

def _changed_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "changed.yaml"
    spec.write_text(EXAMPLE.read_text().replace('version: "4.8.3"', 'version: "4.9.0"')
                    .replace("name: podinfo", "name: podinfo2").replace("6.7.1", "6.8.0"))
    return spec


@pytest.mark.parametrize("fail_at", [1, 2, 5])
def test_a_failure_while_moving_files_into_place_puts_every_file_back(tmp_path, monkeypatch, fail_at):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    before = tree(out)
    real_rename, calls = os.rename, []

    def failing(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) == fail_at:
            raise PermissionError(13, "Permission denied", str(dst))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", failing)
    result = run("render", "-f", str(_changed_spec(tmp_path)), "--output-dir", str(out))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: {out}: cannot write (Permission denied: ") and \
        result.stderr.endswith("); nothing was changed\n")
    assert tree(out) == before and not (out / ".fluxgen.tmp").exists()


KILLER = """
import os, sys
real, count = os.rename, [0]
def dying(src, dst, *args, **kwargs):
    count[0] += 1
    if count[0] == {at}:
        os._exit(137)  # kill -9: no handler, no cleanup
    return real(src, dst, *args, **kwargs)
os.rename = dying
sys.argv = ["kubectl-fluxgen", "render", "-f", sys.argv[1], "--output-dir", sys.argv[2]]
from fluxgen.cli import main
main()
"""


@pytest.mark.parametrize("at", [1, 2, 5, 8])
def test_a_run_killed_while_moving_files_is_undone_by_the_next_one(tmp_path, at):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    before = tree(out)
    killed = subprocess.run([sys.executable, "-c", KILLER.format(at=at), str(_changed_spec(tmp_path)), str(out)],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == 137, killed.stderr
    assert (out / ".fluxgen.tmp" / "journal").exists()  # it died half-way
    again = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert again.exit_code == 0, again.stderr  # nothing is "edited by hand"
    assert tree(out) == before and not (out / ".fluxgen.tmp").exists()
    changed = run("render", "-f", str(_changed_spec(tmp_path)), "--output-dir", str(out))
    assert changed.exit_code == 0, changed.stderr


def test_sigterm_while_writing_leaves_the_previous_tree_and_no_leftovers(tmp_path, kube_env):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench import spec_with

    small, big, out = tmp_path / "small.yaml", tmp_path / "big.yaml", tmp_path / "out"
    small.write_text(spec_with(20))
    big.write_text(spec_with(15000))
    assert run("render", "-f", str(small), "--output-dir", str(out)).exit_code == 0
    before = tree(out)
    process = subprocess.Popen(["kubectl-fluxgen", "render", "-f", str(big), "--output-dir", str(out)], env=kube_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stdout, stderr) == (143, "", "interrupted\n")
    assert tree(out) == before and not (out / ".fluxgen.tmp").exists()


def test_two_renders_into_one_folder_do_not_interleave(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another fluxgen holds it while writing
        result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    finally:
        os.close(fd)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {out}: another fluxgen is writing this folder; run again when it ends\n"
    assert list(out.iterdir()) == []
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0


def test_a_stale_file_that_cannot_be_removed_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    before = tree(out)
    real_rename = os.rename

    def refuse_stale(src, dst, *args, **kwargs):
        if "cert-manager" in str(src) and ".fluxgen.tmp" in str(dst):  # setting the stale file aside
            raise OSError(30, "Read-only file system", str(src))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", refuse_stale)
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text().replace("  - name: cert-manager\n", "  - name: cert-manager-gone\n")
                    .replace("dependsOn: [ingress-nginx]", ""))
    result = run("render", "-f", str(spec), "--output-dir", str(out))
    assert result.exit_code == 1 and "Read-only file system" in result.stderr and "Traceback" not in result.stderr
    assert tree(out) == before


# ---- paths the spec names -------------------------------------------------------------------------

OUTPUT_CLASHES = {
    "a Kustomization folder over the record": (
        "defaults: {git: {url: https://github.com/org/fleet}}\napps:\n  - name: a\n    kustomize: {path: ./.fluxgen.sum}\n",
        "Error: .fluxgen.sum/gitrepository.yaml: fluxgen keeps its own .fluxgen.sum there; give the app another "
        "path"),
    "a folder where another app writes a file": (
        WEB + "  - name: site\n    kustomize: {path: ./web/helmrelease.yaml}\n    git: {url: https://github.com/org/f}\n",
        "Error: web/helmrelease.yaml would be both a file and the folder of "
        "web/helmrelease.yaml/gitrepository.yaml; give one app another path"),
}


@pytest.mark.parametrize("spec, message", OUTPUT_CLASHES.values(), ids=OUTPUT_CLASHES.keys())
def test_output_paths_that_collide_are_refused_before_anything_is_written(tmp_path, spec, message):
    (tmp_path / "fluxgen.yaml").write_text(spec)
    result = run("render", "-f", str(tmp_path / "fluxgen.yaml"), "--output-dir", str(tmp_path / "out"))
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message + "\n")
    assert not (tmp_path / "out").exists()


def test_values_files_must_stay_inside_the_spec_folder(tmp_path):
    secret = tmp_path / "kubeconfig"
    secret.write_text("client-key-data: c2VjcmV0\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.yaml").symlink_to(secret)
    (project / "fluxgen.yaml").write_text(WEB + f'    valuesFiles: [{secret}, ../kubeconfig, link.yaml, "a\\0b"]\n')
    result = run("render", "-f", str(project / "fluxgen.yaml"))
    assert (result.exit_code, result.stdout) == (1, "")
    spec = project / "fluxgen.yaml"
    assert result.stderr.splitlines() == [
        f"{spec}:4: apps[0].valuesFiles[0]: must be a path inside the spec's folder (no leading '/', no '..' out of it)",
        f"{spec}:4: apps[0].valuesFiles[1]: must be a path inside the spec's folder (no leading '/', no '..' out of it)",
        f"{spec}:4: apps[0].valuesFiles[3]: must be one line of text without control characters, not 'a\\x00b'"]
    (spec).write_text(WEB + "    valuesFiles: [link.yaml]\n")
    result = run("render", "-f", str(spec))
    assert result.stderr == (f"{spec}:4: apps[0].valuesFiles[0]: {project}/link.yaml leads out of the spec's folder "
                             "(through a symbolic link); values files must be inside it\n")


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_special_files_are_refused_without_waiting(tmp_path, kind):
    special = tmp_path / "values.yaml"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        special.mkdir()
    (tmp_path / "fluxgen.yaml").write_text(WEB + "    valuesFiles: [values.yaml]\n")
    started = time.monotonic()
    result = run("render", "-f", str(tmp_path / "fluxgen.yaml"))
    assert time.monotonic() - started < 10
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"{tmp_path}/fluxgen.yaml:4: apps[0].valuesFiles[0]: cannot read {special}: is not a "
                             "regular file (a folder, FIFO or device)\n")
    for spec in (special, Path("/dev/zero")):
        if spec.is_dir():
            continue
        result = run("render", "-f", str(spec))
        assert result.exit_code == 1 and "is not a regular file" in result.stderr


def test_a_record_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / ".fluxgen.sum")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Error: {out}/.fluxgen.sum: is not a regular file; fluxgen keeps its record there "
                             "(remove it)\n")


# ---- values that readers would take differently ---------------------------------------------------

def test_keys_are_text_as_written_and_two_spellings_of_one_key_are_refused(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(WEB + "    values:\n      true: a\n      'true': b\n")
    result = run("render", "-f", str(spec))
    assert result.stderr == f"{spec}:6: apps[0].values.true: duplicate key (first on line 5)\n"
    spec.write_text(WEB + "    values: {~: a, 1: b, yes: c, 0x1F: d, on: [1, 2:30, 0o17, 1_e3, 08, 1.0e+400]}\n")
    result = run("render", "-f", str(spec), "-o", "json")
    assert result.exit_code == 0, result.stderr
    values = next(item for item in json.loads(result.stdout)["items"] if item["kind"] == "HelmRelease")["spec"]["values"]
    assert values == {"~": "a", "1": "b", "yes": "c", "0x1F": "d", "on": [1, "2:30", 15, 1000.0, 8.0, "1.0e+400"]}


@pytest.mark.parametrize("value, message", [
    (".nan", ".nan is not a finite number, and Kubernetes (JSON) has no such value; quote it to keep it as text"),
    ("-.inf", "-.inf is not a finite number, and Kubernetes (JSON) has no such value; quote it to keep it as text"),
    ("!!int abc", "'abc' is not an integer"),
    ("!!float abc", "'abc' is not a number that fits in 64 bits"),
    ("!!bool maybe", "'maybe' is not true or false"),
    ("!!int 0x", "'0x' is not an integer"),
])
def test_values_no_reader_can_hold_are_refused_at_their_line(tmp_path, value, message):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(WEB + f"    values:\n      x: {value}\n")
    result = run("render", "-f", str(spec), "-o", "json")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"{spec}:5: apps[0].values.x: {message}\n")
    (tmp_path / "v.yaml").write_text(f"x: {value}\n")
    spec.write_text(WEB + "    valuesFiles: [v.yaml]\n")
    result = run("render", "-f", str(spec))
    assert result.stderr == f"{tmp_path}/v.yaml:1: x: {message}\n"


def test_a_trailing_newline_or_a_boolean_does_not_pass_for_a_name_or_a_number(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text('apps:\n  - name: "web\\n"\n    chart: {repository: "https://c.example.com\\n", name: web}\n'
                    '    interval: "5m\\n"\n    maxHistory: true\n    timeout: 99999999999999999999h\n'
                    '  - name: api\n    chart: {repository: https://c.example.com, name: api}\n'
                    '    maxHistory: 99999999999999999999\n')
    result = run("render", "-f", str(spec))
    assert result.stderr.splitlines() == [
        f"{spec}:2: apps[0].name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending "
        "with a letter or digit (Flux's ${VAR} substitutions allowed)",
        f"{spec}:3: apps[0].chart.repository: must not contain spaces or control characters",
        f"{spec}:4: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' unit: "
        "write 24h)",
        f"{spec}:5: apps[0].maxHistory: must be integer",
        f"{spec}:9: apps[1].maxHistory: must be at most 9223372036854775807"]


# ---- the command line and the terminal -------------------------------------------------------------

def test_a_full_disk_on_standard_output_is_a_clean_error(tmp_path, kube_env):
    with open("/dev/full", "w") as full:
        result = subprocess.run(["kubectl-fluxgen", "render", "-f", str(EXAMPLE)], env=kube_env, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (1, "Error: cannot write to standard output: No space left on "
                                                     "device\n")


def test_an_empty_output_folder_name_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("render", "-f", str(EXAMPLE), "--output-dir", "")
    assert result.exit_code == 2 and "--output-dir needs a folder (use . for the current one)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_request_timeout_longer_than_kubectl_can_hold_is_a_usage_error():
    result = run("render", "-f", str(EXAMPLE), "--reuse-existing", "--request-timeout", "99999999999999h")
    assert result.exit_code == 2
    assert "--request-timeout '99999999999999h': longer than kubectl can wait" in result.stderr


def test_help_speaks_flux_and_kubectl_not_our_internal_words():
    for command in ("render", "validate", "init", "schema", "version"):
        text = run(command, "--help").stdout
        for word in ("PRD", "spec order"):
            assert word not in text, (command, word)
    assert "0 waits forever" not in run("render", "--help").stdout


def test_flux_fluxgen_users_are_told_to_run_flux_fluxgen(tmp_path, kube_env):
    result = subprocess.run(["flux-fluxgen", "init", "-f", str(tmp_path / "fluxgen.yaml")], env=kube_env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "(see flux fluxgen init --help)" in result.stderr


# ---- init edits the file a person keeps --------------------------------------------------------------

INIT = ["init", "--scenario", "chart", "--name", "redis", "--repository", "https://charts.example.com",
        "--chart", "redis"]


def test_init_adds_after_a_multi_line_quoted_string(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(WEB + '    values:\n      motd: "hello\n        world"\n# the end\n')
    result = run(*INIT, "-f", str(spec))
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(spec.read_text())
    assert data["apps"][0]["values"] == {"motd": "hello world"}
    assert [app["name"] for app in data["apps"]] == ["web", "redis"]
    assert spec.read_text().endswith("# the end\n")


def test_init_edits_the_file_behind_a_link_and_keeps_its_bom_and_line_ends(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_bytes(b"\xef\xbb\xbf" + WEB.replace("\n", "\r\n").encode())
    link = tmp_path / "fluxgen.yaml"
    link.symlink_to(real)
    result = run(*INIT, "-f", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    raw = real.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfapps:\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert [app["name"] for app in yaml.safe_load(raw.decode("utf-8-sig"))["apps"]] == ["web", "redis"]


# ---- package folders ---------------------------------------------------------------------------------

PACKAGE = textwrap.dedent("""\
    defaults: {git: {url: https://github.com/org/fleet}}
    apps:
      - name: site
        kustomize: {path: ./apps/site}
        package: manifests
    """)


def test_a_link_inside_a_package_folder_is_refused_not_skipped(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "manifests" / "more").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "manifests" / "other.yaml").symlink_to(tmp_path / "manifests" / "cm.yaml")
    (tmp_path / "fluxgen.yaml").write_text(PACKAGE)
    result = run("render", "-f", str(tmp_path / "fluxgen.yaml"))
    base = f"{tmp_path}/manifests"
    assert result.stderr.splitlines() == [
        f"{base}/more: is a symbolic link; fluxgen does not follow links in a package folder (copy the files in instead)",
        f"{base}/other.yaml: is a symbolic link; fluxgen does not follow links in a package folder (copy the files in "
        "instead)"]


def test_a_json_manifest_nested_too_deep_is_refused(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "deep.json").write_text('{"a": ' * 700 + "1" + "}" * 700)
    (tmp_path / "fluxgen.yaml").write_text(PACKAGE)
    result = run("render", "-f", str(tmp_path / "fluxgen.yaml"))
    assert result.stderr == f"{tmp_path}/manifests/deep.json:1: nested more than 100 levels deep\n"


# ---- found by a hostile pass over the writer ---------------------------------------------------------

def test_a_planted_journal_cannot_create_git_hooks_or_delete_files_fluxgen_does_not_write(tmp_path):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    (out / ".git" / "hooks").mkdir(parents=True)
    (out / "LICENSE").write_text("Apache-2.0\n")
    staging = out / ".fluxgen.tmp"
    staging.mkdir()
    (staging / "b0").write_text("#!/bin/sh\necho pwned\n")
    (staging / "b1").symlink_to("/etc/passwd")
    ops = [{"op": "remove", "path": ".git/hooks/pre-commit", "backup": "b0", "old": sha(b"#!/bin/sh\necho pwned\n")},
           {"op": "write", "path": "LICENSE", "new": "n9", "backup": "b9", "sha": sha(b"Apache-2.0\n"), "old": None},
           {"op": "write", "path": "podinfo/values.yaml", "new": "n8", "backup": "b1", "sha": "x", "old": "link"}]
    (staging / "journal").write_text(json.dumps({"ops": ops, "folders": []}))
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    assert not (out / ".git/hooks/pre-commit").exists() and (out / "LICENSE").read_text() == "Apache-2.0\n"
    assert not (out / "podinfo/values.yaml").exists() and not staging.exists()


def test_a_planted_record_line_cannot_delete_git_files(tmp_path):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    (out / ".git").mkdir()
    (out / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (out / "notes.md").write_text("mine\n")
    with (out / ".fluxgen.sum").open("a") as record:
        record.write(f"{sha(b'ref: refs/heads/main' + bytes([10]))}  .git/HEAD\n{sha(b'mine' + bytes([10]))}  notes.md\n")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 0 and "removed" not in result.stderr
    assert (out / ".git/HEAD").exists() and (out / "notes.md").exists()
    assert result.stderr.count("ignored a line that does not name a file fluxgen writes") == 2


def test_app_paths_no_file_system_can_hold_are_refused_at_their_line(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text("defaults: {git: {url: https://github.com/org/fleet}}\napps:\n"
                    f"  - name: long\n    kustomize: {{path: ./apps/{'a' * 300}}}\n"
                    '  - name: breaks\n    kustomize: {path: "./apps/x\\u2028y"}\n')
    result = run("render", "-f", str(spec), "--output-dir", str(tmp_path / "out"))
    assert result.stderr.splitlines() == [
        f"{spec}:4: apps[0].kustomize.path: is longer than a file system allows (255 bytes a name, 3,000 "
        "characters in all)",
        f"{spec}:6: apps[1].kustomize.path: must be one line of text without control characters, not "
        "'./apps/x\\u2028y'"]
    assert not (tmp_path / "out").exists()


def test_renders_racing_into_a_new_folder_end_cleanly(tmp_path, kube_env):
    for round in range(5):
        out = tmp_path / f"r{round}" / "a" / "b" / "out"
        runs = [subprocess.Popen(["kubectl-fluxgen", "render", "-f", str(EXAMPLE), "--output-dir", str(out)],
                                 env=kube_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(3)]
        results = [(r.wait(timeout=60), r.stderr.read()) for r in runs]
        assert all("Traceback" not in err for _, err in results), results
        assert all(code == 0 or "another fluxgen is writing" in err for code, err in results), results
        assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).stderr.endswith(", 15 unchanged\n")


def test_a_package_folder_that_is_a_link_leading_out_is_refused(tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "creds.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "manifests").symlink_to("../private")
    (tmp_path / "repo" / "fluxgen.yaml").write_text(PACKAGE)
    result = run("render", "-f", str(tmp_path / "repo" / "fluxgen.yaml"))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"{tmp_path}/repo/fluxgen.yaml:5: apps[0].package: {tmp_path}/repo/manifests leads out of "
                             "the spec's folder (through a symbolic link); package folders must be inside it\n")


def test_ctrl_c_while_files_are_moved_leaves_no_staging_folder(tmp_path, kube_env):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench import spec_with

    old, new, out = tmp_path / "old.yaml", tmp_path / "new.yaml", tmp_path / "out"
    old.write_text(spec_with(3000))
    new.write_text(spec_with(4000))
    assert run("render", "-f", str(old), "--output-dir", str(out)).exit_code == 0
    process = subprocess.Popen(["kubectl-fluxgen", "render", "-f", str(new), "--output-dir", str(out)], env=kube_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal, started = out / ".fluxgen.tmp" / "journal", time.monotonic()
    while not journal.exists() and process.poll() is None and time.monotonic() - started < 60:
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert not (out / ".fluxgen.tmp").exists()
    again = run("render", "-f", str(new), "--output-dir", str(out))
    assert again.exit_code == 0 and "put back" not in again.stderr


@pytest.mark.parametrize("command, closed, message", [
    (["version"], None, "Error: cannot write to standard output: No space left on device\n"),
    (["render", "--help"], None, "Error: cannot write to standard output: No space left on device\n"),
    (["render", "-f", str(EXAMPLE)], 1, "Error: cannot write to standard output: it is closed\n"),
    (["render", "-f", "-"], 0, "<stdin>: cannot read: standard input is closed\n"),
])
def test_a_full_or_closed_standard_stream_is_a_clean_error(kube_env, command, closed, message):
    with open("/dev/full", "w") as full:  # `>/dev/full`, or `>&-` / `<&-` when a stream is closed
        result = subprocess.run(["kubectl-fluxgen", *command], env=kube_env, stderr=subprocess.PIPE, text=True,
                                stdout=full if closed is None else None, timeout=60,
                                preexec_fn=None if closed is None else (lambda: os.close(closed)))
    assert (result.returncode, result.stderr) == (1, message)


def test_odd_files_in_the_output_folder_are_clean_errors(tmp_path):
    out = tmp_path / "out"
    assert run("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    with (out / ".fluxgen.sum").open("a") as record:
        record.write("a" * 64 + "  " + "b" * 300 + "\n")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 0 and "ignored a line" in result.stderr
    (out / ".fluxgen.tmp").mkdir()
    (out / ".fluxgen.tmp" / "journal").write_text("[" * 100000 + "]" * 100000)
    result = run("render", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {out}/.fluxgen.tmp/journal: cannot read: ")


@pytest.mark.parametrize("value, message", [
    ("!!int [1, 2]", "the tag 'int' does not fit a list"),
    ("!!bool {a: 1}", "the tag 'bool' does not fit a mapping"),
    ("!!map abc", "the tag 'map' does not fit a single value"),
    ("!!seq abc", "the tag 'seq' does not fit a single value"),
    ("!!timestamp notadate", "'notadate' is not a date"),
])
def test_a_tag_that_does_not_fit_its_value_is_refused(tmp_path, value, message):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(WEB + f"    values:\n      k: {value}\n")
    result = run("render", "-f", str(spec))
    assert (result.exit_code, result.stderr) == (1, f"{spec}:5: apps[0].values.k: {message}\n")


def test_init_keeps_each_line_end_of_a_mixed_file(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_bytes(b"apps:\r\n  - name: a\n    chart: {repository: https://c.example.com, name: a}\n")
    assert run(*INIT, "-f", str(spec)).exit_code == 0
    lines = spec.read_bytes().splitlines(keepends=True)
    assert lines[:3] == [b"apps:\r\n", b"  - name: a\n", b"    chart: {repository: https://c.example.com, name: a}\n"]
    assert all(line.endswith(b"\n") and not line.endswith(b"\r\n") for line in lines[3:])


def test_output_folder_names_mkdir_p_takes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("render", "-f", str(EXAMPLE), "--output-dir", "nothere/../out").exit_code == 0
    assert (tmp_path / "out" / ".fluxgen.sum").exists()
    (tmp_path / "dangling").symlink_to("gone")
    result = run("render", "-f", str(EXAMPLE), "--output-dir", "dangling")
    assert (result.exit_code, result.stderr) == (1, "Error: dangling: is a symbolic link to a folder that does not "
                                                    "exist\n")
