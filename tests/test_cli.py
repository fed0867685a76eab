"""The command as users run it: `kubectl fluxgen ...` through the real kubectl binary."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fluxgen.yaml"
HOSTILE = ROOT / "tests" / "cases" / "hostile-values" / "fluxgen.yaml"


def test_kubectl_dispatches_to_the_plugin_and_renders_the_example(kubectl):
    result = kubectl("fluxgen", "render", "-f", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds == ["Namespace"] * 4 + ["HelmRepository", "HelmRepository", "OCIRepository", "GitRepository",
                                         "HelmRelease", "HelmRelease", "HelmRelease", "HelmRelease", "Kustomization",
                                         "Provider", "Alert"]


def test_default_spec_file_is_fluxgen_yaml_in_the_current_folder(kubectl, tmp_path):
    (tmp_path / "fluxgen.yaml").write_text(EXAMPLE.read_text())
    assert kubectl("fluxgen", "render", cwd=tmp_path).stdout == kubectl("fluxgen", "render", "-f", str(EXAMPLE)).stdout


def test_standard_input_and_paths_relative_to_the_spec(kubectl, tmp_path):
    (tmp_path / "values.yaml").write_text("replicaCount: 3\n")
    spec = "apps:\n- name: web\n  chart: {repository: https://c.example.com, name: web}\n  valuesFiles: [values.yaml]\n"
    (tmp_path / "sub").mkdir()
    (tmp_path / "fluxgen.yaml").write_text(spec)
    from_file = kubectl("fluxgen", "render", "-f", str(tmp_path / "fluxgen.yaml"), cwd=tmp_path / "sub")
    from_stdin = kubectl("fluxgen", "render", "-f", "-", input=spec, cwd=tmp_path)
    assert from_file.returncode == from_stdin.returncode == 0, from_file.stderr + from_stdin.stderr
    assert from_file.stdout == from_stdin.stdout
    assert "replicaCount: 3" in from_file.stdout


def test_a_broken_spec_prints_nothing_on_stdout_and_exits_1(kubectl):
    result = kubectl("fluxgen", "render", "-f", "-", input="apps:\n- name: web\n  chart: {repository: x}\n")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == ("<stdin>:3: apps[0].chart.repository: must start with https://, http:// or oci://\n"
                             "<stdin>:3: apps[0].chart.repository: needs 'name' as well\n")


def test_a_missing_spec_file_is_a_clean_error(kubectl, tmp_path):
    result = kubectl("fluxgen", "render", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "fluxgen.yaml: no such file (name the spec with -f FILE)\n"
    assert "Traceback" not in result.stderr


def test_bad_flags_exit_2_with_kubectl_style_usage(kubectl):
    result = kubectl("fluxgen", "render", "-o", "xml")
    assert (result.returncode, result.stdout) == (2, "")
    assert "Usage: kubectl fluxgen render [OPTIONS]" in result.stderr
    assert "'xml' is not one of 'yaml', 'json'" in result.stderr


def test_help_reads_kubectl_fluxgen_and_lists_the_commands(kubectl):
    result = kubectl("fluxgen", "-h")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: kubectl fluxgen [OPTIONS] COMMAND [ARGS]...")
    for command in ("render", "validate", "version"):
        assert f"  {command} " in result.stdout


def test_the_same_program_answers_as_flux_fluxgen():
    script = Path(sys.executable).parent / "flux-fluxgen"
    result = subprocess.run([str(script), "render", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: flux fluxgen render [OPTIONS]")


def test_the_checkout_script_runs_without_installation(tmp_path):
    env = dict(os.environ, PYTHONPATH="")
    result = subprocess.run([str(ROOT / "kubectl-fluxgen"), "version"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    from fluxgen import __version__
    assert (result.returncode, result.stdout) == (0, f"fluxgen: v{__version__}\n")


def test_validate_reports_success_and_failure(kubectl):
    ok = kubectl("fluxgen", "validate", "-f", str(EXAMPLE))
    assert (ok.returncode, ok.stdout) == (0, f"{EXAMPLE}: valid (11 Flux objects, 4 Namespaces)\n")
    bad = kubectl("fluxgen", "validate", "-f", "-", input="apps: []\n")
    assert (bad.returncode, bad.stdout, bad.stderr) == (1, "", "<stdin>:1: apps: needs at least 1 item(s)\n")


def test_kubectl_reads_hostile_values_exactly_as_written(kubectl):
    """kubectl's own YAML reader (yaml.v2: `y` is true) gets every value as fluxgen meant it."""
    rendered = kubectl("fluxgen", "render", "-f", str(HOSTILE))
    assert rendered.returncode == 0, rendered.stderr
    ours = list(yaml.safe_load_all(rendered.stdout))
    for doc, text in zip(ours, rendered.stdout.split("---\n")[1:]):
        seen = kubectl("label", "--local", "-f", "-", "-o", "json", "checked=yes", input=text)
        assert seen.returncode == 0, seen.stderr
        seen = json.loads(seen.stdout)
        del seen["metadata"]["labels"]
        assert seen == doc
    values = ours[-1]["spec"]["values"]
    assert values["y"] == "y" and values["scientific"] == "1e3" and values["mode"] == "0755"
    assert values["unicode"] == "Grüße, 世界 🚀" and values["template"] == "{{ .Values.x }}"


def test_kustomize_reads_the_output_as_written(kubectl, tmp_path):
    """kustomize (yaml.v3, YAML 1.2: `1e3` is a number) also reads every value as meant."""
    rendered = kubectl("fluxgen", "render", "-f", str(HOSTILE)).stdout
    (tmp_path / "all.yaml").write_text(rendered)
    (tmp_path / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    built = kubectl("kustomize", str(tmp_path))
    assert built.returncode == 0, built.stderr
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(yaml.safe_load_all(built.stdout), key=key) == sorted(yaml.safe_load_all(rendered), key=key)


def test_a_credential_in_values_is_rendered_with_a_warning_on_stderr(kubectl, tmp_path):
    spec = "apps:\n- name: db\n  chart: {repository: https://c.example.com, name: db}\n  values: {password: x}\n"
    result = kubectl("fluxgen", "render", "-f", "-", input=spec, cwd=tmp_path)
    assert result.returncode == 0 and "password: x" in result.stdout
    assert result.stderr.startswith("warning: <stdin>:4: apps[0].values.password: looks like a credential;")
