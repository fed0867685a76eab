"""Every string fluxgen writes is read back as that same string by the real readers of a Flux
repository: kubectl (Go yaml.v2), kustomize (yaml.v3, as kustomize-controller builds) and fluxgen
itself. Strings are drawn from the characters that make YAML see numbers, dates and booleans."""

import json
import subprocess

from conftest import TOOLS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen.document import load
from fluxgen.output import dump_all

# Strings that Go reads as something else, found with the real binaries (each a family of cases)
TRICKY = ["0X1F", "0B101", "0O17", "0o17", "-_1", "1_e3", "+0o17", "2024-1-2", "2024-01-02", "2024-1-2 3:4:5",
          "2024-01-02T10:00:00Z", "08", "017", "0x_1f", "0_x1f", "1__0", "5.", "+.5", ".5e3", ".1e1_0", "1e3",
          "1.0e+400", "y", "N", "on", "Off", "yes", "~", "null", "", "2:30", "1:20.5", "190:20:30", "=", "<<x",
          "1_000", "9223372036854775808", "18446744073709551616", ".inf", "-.Inf", ".NaN", "0b", "0x", "-0", "00",
          "1e", "0e0", "+1", "-1.", "0.1", "1.2.3", "v1", "1,000", "true", "False", "nULL"]
GO_LIKE = st.text(alphabet=st.sampled_from(list("0123456789_+-.eExXbBoO:Tt Z")), min_size=1, max_size=10)
WORDS = st.sampled_from(TRICKY)


def _config_map(strings: list[str]) -> dict:
    data = {f"v{i}": text for i, text in enumerate(strings)}  # each string as a value...
    data |= {text: f"k{i}" for i, text in enumerate(strings) if text}  # ...and as a key
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": data}


def _kubectl_reads(text: str, env: dict, folder) -> dict:
    (folder / "cm.yaml").write_text(text)
    result = subprocess.run([str(TOOLS / "kubectl"), "label", "--local", "-f", str(folder / "cm.yaml"), "probe=1",
                             "-o", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["data"]


def _kustomize_reads(text: str, env: dict, folder) -> dict:
    (folder / "cm.yaml").write_text(text)
    (folder / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    built = subprocess.run([str(TOOLS / "kubectl"), "kustomize", str(folder)], env=env, capture_output=True,
                           text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    return _kubectl_reads(built.stdout, env, folder)  # what kustomize wrote, as kubectl then reads it


def _check(strings: list[str], env: dict, folder) -> None:
    obj = _config_map(list(dict.fromkeys(strings)))
    text = dump_all([obj])
    assert load(text[4:], "out")[0]["data"] == obj["data"]
    assert _kubectl_reads(text, env, folder) == obj["data"]
    assert _kustomize_reads(text, env, folder) == obj["data"]


def test_known_tricky_strings_survive_every_reader(kube_env, tmp_path):
    _check(TRICKY, kube_env, tmp_path)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(GO_LIKE, WORDS), min_size=1, max_size=40))
def test_generated_strings_survive_every_reader(kube_env, tmp_path_factory, strings):
    _check(strings, kube_env, tmp_path_factory.mktemp("readers"))
