"""--output-dir: the PRD's per-app layout, and never losing a user's file."""

import os
from pathlib import Path

import yaml
from click.testing import CliRunner

from fluxgen.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fluxgen.yaml"
LAYOUT = [
    ".fluxgen.sum",
    "apps/my-application/gitrepository.yaml",
    "apps/my-application/helmrelease.yaml",
    "apps/my-application/namespace.yaml",
    "apps/my-microservice/flux-kustomization.yaml",
    "cert-manager/helmrelease.yaml",
    "cert-manager/helmrepository.yaml",
    "cert-manager/namespace.yaml",
    "ingress-nginx/helmrelease.yaml",
    "ingress-nginx/helmrepository.yaml",
    "ingress-nginx/namespace.yaml",
    "notifications/alert.yaml",
    "notifications/provider.yaml",
    "podinfo/helmrelease.yaml",
    "podinfo/namespace.yaml",
    "podinfo/ocirepository.yaml",
]


def run(*args, spec=EXAMPLE):
    return CliRunner().invoke(cli, ["render", "-f", str(spec), *args], prog_name="kubectl fluxgen")


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_writes_one_folder_per_app_holding_exactly_what_stdout_shows(tmp_path):
    result = run("--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert files(tmp_path / "out") == LAYOUT
    written = [doc for path in LAYOUT[1:] for doc in yaml.safe_load_all((tmp_path / "out" / path).read_text())]
    printed = list(yaml.safe_load_all(run().stdout))
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(written, key=key) == sorted(printed, key=key)
    assert len(written) == len(printed)  # the shared GitRepository is written once


def test_rendering_again_changes_nothing(tmp_path):
    run("--output-dir", str(tmp_path))
    before = {p: (tmp_path / p).read_bytes() for p in files(tmp_path)}
    mtimes = {p: (tmp_path / p).stat().st_mtime_ns for p in files(tmp_path)}
    result = run("--output-dir", str(tmp_path))
    assert result.exit_code == 0
    assert result.stderr == f"wrote 0 file(s) to {tmp_path}, {len(LAYOUT) - 1} unchanged\n"
    assert {p: (tmp_path / p).read_bytes() for p in files(tmp_path)} == before
    assert {p: (tmp_path / p).stat().st_mtime_ns for p in files(tmp_path)} == mtimes


def test_a_changed_spec_rewrites_generated_files_and_removes_stale_ones(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text())
    out = tmp_path / "out"
    run("--output-dir", str(out), spec=spec)
    spec.write_text(EXAMPLE.read_text().replace('version: "4.8.3"', 'version: "4.9.0"')
                    .replace("  - name: cert-manager\n", "  - name: cert-manager-gone\n")
                    .replace("dependsOn: [ingress-nginx]", ""))
    result = run("--output-dir", str(out), spec=spec)
    assert result.exit_code == 0, result.stderr
    assert "version: 4.9.0" in (out / "ingress-nginx" / "helmrelease.yaml").read_text()
    assert [f for f in files(out) if "cert-manager" in f] == [  # the shared source moved with its first user
        "cert-manager-gone/helmrelease.yaml", "cert-manager-gone/helmrepository.yaml", "cert-manager-gone/namespace.yaml"]
    for gone in ("cert-manager/helmrelease.yaml", "cert-manager/helmrepository.yaml", "cert-manager/namespace.yaml"):
        assert f"removed {out / gone} (no longer generated)" in result.stderr
    assert (out / ".fluxgen.sum").read_text().count("\n") == len(LAYOUT) - 1


def test_hand_edited_files_survive_without_force(tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(EXAMPLE.read_text())
    out = tmp_path / "out"
    run("--output-dir", str(out), spec=spec)
    edited = out / "podinfo" / "helmrelease.yaml"
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    spec.write_text(EXAMPLE.read_text().replace("replicaCount: 2", "replicaCount: 3"))
    before = {p: (out / p).read_bytes() for p in files(out)}
    result = run("--output-dir", str(out), spec=spec)
    assert (result.exit_code, result.stdout) == (1, "")
    assert str(edited) in result.stderr and "--force" in result.stderr
    assert {p: (out / p).read_bytes() for p in files(out)} == before  # nothing at all was written
    forced = run("--output-dir", str(out), "--force", spec=spec)
    assert forced.exit_code == 0, forced.stderr
    assert "# tuned by hand" not in edited.read_text()


def test_files_fluxgen_did_not_write_are_not_overwritten(tmp_path):
    (tmp_path / "podinfo").mkdir()
    mine = tmp_path / "podinfo" / "helmrelease.yaml"
    mine.write_text("my own file\n")
    result = run("--output-dir", str(tmp_path))
    assert result.exit_code == 1
    assert mine.read_text() == "my own file\n"
    assert files(tmp_path) == ["podinfo/helmrelease.yaml"]


def test_never_writes_through_a_symlink_leading_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "podinfo")
    result = run("--output-dir", str(out))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Error: {out}/podinfo/namespace.yaml: cannot be written: {out}/podinfo is a "
                             "symbolic link; fluxgen never writes through a link (make it a real folder)\n")
    assert list(outside.iterdir()) == [] and files(out) == []


def test_an_unwritable_folder_is_a_clean_error():
    result = run("--output-dir", "/proc/fluxgen-cannot-write-here")  # even root cannot write in /proc
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: /proc/fluxgen-cannot-write-here: cannot write:")


def test_a_file_where_a_folder_must_go_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "podinfo").write_text("a file where a folder must go\n")
    result = run("--output-dir", str(out))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {out}/podinfo/namespace.yaml: cannot be written: {out}/podinfo is not a folder\n"
    assert files(out) == ["podinfo"]


def test_output_dir_rejects_json_and_force_needs_output_dir():
    assert run("--output-dir", "x", "-o", "json").exit_code == 2
    assert run("--force").exit_code == 2
