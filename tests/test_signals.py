"""Pipes and signals, as in a terminal: `render | head -1` ends quietly, and Ctrl-C ends without a
traceback and without half-written files."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench import spec_with  # noqa: E402  (the benchmark's realistic mix of apps)


@pytest.fixture(scope="module")
def big_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "fluxgen.yaml"
    path.write_text(spec_with(15000))  # about 5 s to render: still running when Ctrl-C comes
    return path


def test_render_into_head_ends_without_a_traceback(big_spec, kube_env):
    shell = subprocess.run(f"kubectl-fluxgen render -f {big_spec} | head -1", shell=True, env=kube_env,
                           capture_output=True, text=True, timeout=120)
    assert shell.stdout == "---\n"
    assert shell.stderr == ""  # no BrokenPipeError, no "Exception ignored"


def _interrupt_after(command: list[str], env: dict, seconds: float) -> subprocess.CompletedProcess:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_ctrl_c_ends_cleanly_and_leaves_no_half_written_files(big_spec, tmp_path, kube_env):
    out = tmp_path / "out"
    result = _interrupt_after(["kubectl-fluxgen", "render", "-f", str(big_spec), "--output-dir", str(out)],
                              kube_env, 1.0)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "interrupted\n" and result.stdout == ""
    assert not out.exists()  # nothing at all, not a partial tree


def test_ctrl_c_keeps_the_previous_output_whole(big_spec, tmp_path, kube_env):
    small = tmp_path / "small.yaml"
    small.write_text(spec_with(20))
    out = tmp_path / "out"
    first = subprocess.run(["kubectl-fluxgen", "render", "-f", str(small), "--output-dir", str(out)], env=kube_env,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = _interrupt_after(["kubectl-fluxgen", "render", "-f", str(big_spec), "--output-dir", str(out)],
                              kube_env, 1.0)
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.rglob("*.tmp")]
