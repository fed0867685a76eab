"""diff: what render --output-dir would change, as a unified diff; exit 0 (nothing), 1 (changes),
2 (errors), as diff does; nothing written, colour only on a terminal."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pexpect
from click.testing import CliRunner

from fluxgen.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fluxgen.yaml"


def fluxgen(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="kubectl fluxgen")


def snapshot(root: Path) -> dict[str, str]:
    """Every entry below root, with the hash of each file (links and folders too)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink()
            else ("link" if p.is_symlink() else "folder") for p in root.rglob("*")} if root.exists() else {}


def test_a_new_folder_is_all_additions_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 1, result.stderr
    assert not out.exists()
    assert f"--- /dev/null\n+++ {out}/podinfo/helmrelease.yaml\n@@ -0,0 +1," in result.stdout
    assert result.stderr == f"15 new, 0 changed, 0 removed file(s) in {out}\n"
    assert "\x1b[" not in result.stdout  # no colour off a terminal


def test_a_tree_that_matches_gives_exit_0_and_no_output(tmp_path):
    assert fluxgen("render", "-f", str(EXAMPLE), "--output-dir", str(tmp_path)).exit_code == 0
    before = snapshot(tmp_path)
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"0 new, 0 changed, 0 removed file(s) in {tmp_path}\n"
    assert snapshot(tmp_path) == before


def test_changed_added_and_removed_files_and_a_hand_edit_are_shown_and_left_as_they_are(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text())
    out = tmp_path / "out"
    assert fluxgen("render", "-f", str(spec), "--output-dir", str(out)).exit_code == 0
    spec.write_text(EXAMPLE.read_text().replace('version: "4.8.3"', 'version: "4.9.0"')
                    .replace("  - name: cert-manager\n", "  - name: cert-manager2\n")
                    .replace("dependsOn: [ingress-nginx]", ""))
    edited = out / "podinfo" / "helmrelease.yaml"
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    before = snapshot(out)
    result = fluxgen("diff", "-f", str(spec), "--output-dir", str(out))
    assert result.exit_code == 1
    assert snapshot(out) == before
    text = result.stdout
    assert (f"--- {out}/ingress-nginx/helmrelease.yaml\n+++ {out}/ingress-nginx/helmrelease.yaml\n" in text and
            "-      version: 4.8.3\n+      version: 4.9.0\n" in text)
    assert f"--- {out}/cert-manager/helmrelease.yaml\n+++ /dev/null\n" in text
    assert f"--- /dev/null\n+++ {out}/cert-manager2/helmrelease.yaml\n" in text
    assert f"--- {out}/podinfo/helmrelease.yaml\n+++ {out}/podinfo/helmrelease.yaml\n" in text
    assert "-# tuned by hand\n" in text
    assert "would refuse to overwrite these files without --force" in result.stderr and str(edited) in result.stderr
    assert result.stderr.endswith(f"3 new, 2 changed, 3 removed file(s) in {out}\n")
    # what diff said is what render does (with --force for the hand edit)
    assert fluxgen("render", "-f", str(spec), "--output-dir", str(out), "--force").exit_code == 0
    assert fluxgen("diff", "-f", str(spec), "--output-dir", str(out)).exit_code == 0


def test_errors_exit_2_with_nothing_on_standard_output(tmp_path):
    result = fluxgen("diff", "-f", str(tmp_path / "missing.yaml"), "--output-dir", str(tmp_path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert "no such file" in result.stderr
    bad = tmp_path / "fluxgen.yaml"
    bad.write_text("apps: []\n")
    result = fluxgen("diff", "-f", str(bad), "--output-dir", str(tmp_path))
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"{bad}:1: apps: needs at least 1 item(s)\n")
    (tmp_path / "file").write_text("x")
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file" in result.stderr
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "file" / "sub"))
    assert result.exit_code == 2 and "file: exists and is not a folder" in result.stderr  # as render would fail
    os.symlink(tmp_path / "nowhere", tmp_path / "link")
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "link"))
    assert result.exit_code == 2 and "symbolic link to a folder that does not exist" in result.stderr
    assert fluxgen("diff", "-f", str(EXAMPLE)).exit_code == 2  # --output-dir is required


def test_an_unfinished_render_is_an_error_and_a_link_for_a_file_is_shown_as_one(tmp_path):
    out = tmp_path / "out"
    assert fluxgen("render", "-f", str(EXAMPLE), "--output-dir", str(out)).exit_code == 0
    (out / ".fluxgen.tmp").mkdir()
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert (result.exit_code, result.stdout) == (2, "") and "did not finish" in result.stderr
    (out / ".fluxgen.tmp").rmdir()
    target = out / "podinfo" / "helmrelease.yaml"
    target.unlink()
    target.symlink_to("/etc/passwd")
    result = fluxgen("diff", "-f", str(EXAMPLE), "--output-dir", str(out))
    assert result.exit_code == 1 and "-(a symbolic link to /etc/passwd)\n" in result.stdout
    assert "root:" not in result.stdout and str(target) in result.stderr  # never read through; render needs --force


def test_colour_on_a_terminal_only(tmp_path):
    kubectl_fluxgen = shutil.which("kubectl-fluxgen")
    assert kubectl_fluxgen
    child = pexpect.spawn(kubectl_fluxgen, ["diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "out")],
                          encoding="utf-8", timeout=60, env=dict(os.environ, TERM="xterm"))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "\x1b[32m+apiVersion: v1" in child.before and "\x1b[36m@@ -0,0" in child.before
    piped = subprocess.run([kubectl_fluxgen, "diff", "-f", str(EXAMPLE), "--output-dir", str(tmp_path / "out")],
                           capture_output=True, text=True)
    assert piped.returncode == 1 and "\x1b[" not in piped.stdout
