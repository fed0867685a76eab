"""`kubectl fluxgen schema`: a valid draft 2020-12 JSON Schema that agrees with the cerberus
schema fluxgen validates with, on every example, every golden case, every broken spec of the
other tests, and on generated specs."""

import json
import subprocess
import textwrap
from pathlib import Path

import jsonschema
import pytest
import test_flux_options
import test_properties
import test_spec
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen import catalogue, document
from fluxgen.editor_schema import json_schema
from fluxgen.errors import SpecError
from fluxgen.output import dump_all
from fluxgen.problems import Where
from fluxgen.schema import SCHEMA as SCHEMA_RULES
from fluxgen.validator import validator_for

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
GOOD = sorted([*ROOT.glob("examples/**/fluxgen.yaml"), *ROOT.glob("tests/cases/*/fluxgen.yaml")])


def verdicts(text: str) -> tuple[bool, bool] | None:
    """(cerberus accepts, the JSON Schema accepts) for a spec's text; None if it is not YAML."""
    try:
        data, _ = document.load(textwrap.dedent(text), "fluxgen.yaml")
    except SpecError:
        return None
    if not isinstance(data, dict):
        return None
    whole = validator_for("spec", SCHEMA_RULES)
    ok = whole.validate(data) and not catalogue.check(whole.document.get("sources", []), "flux-system",
                                                      Where("fluxgen.yaml", {}))[1]  # entries: a second step
    return ok, VALIDATOR.is_valid(data)


def test_the_command_prints_a_valid_draft_2020_12_schema(kube_env):
    result = subprocess.run(["kubectl-fluxgen", "schema"], env=kube_env, capture_output=True, text=True)
    assert result.returncode == 0
    printed = json.loads(result.stdout)
    assert printed == SCHEMA and printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)


def test_editors_get_descriptions_defaults_and_allowed_values():
    app = SCHEMA["properties"]["apps"]["items"]
    assert app["properties"]["namespace"]["default"] == "flux-system"
    assert app["properties"]["interval"]["default"] == "5m"
    assert app["properties"]["git"]["properties"]["branch"]["default"] == "main"
    assert app["properties"]["chart"]["description"] == "deploy a Helm chart"
    assert app["properties"]["driftDetection"]["properties"]["mode"]["enum"] == ["enabled", "warn", "disabled"]
    assert app["properties"]["install"]["properties"]["strategy"]["required"] == ["name"]


@pytest.mark.parametrize("path", GOOD, ids=[str(p.relative_to(ROOT)) for p in GOOD])
def test_every_example_and_golden_spec_is_valid(path):
    assert verdicts(path.read_text()) == (True, True)


BROKEN = {f"spec: {name}": text for name, (text, _) in test_spec.BROKEN.items()} | {
    f"option: {kind} {fragment}": test_flux_options.BASES[kind].format(option=fragment)
    for kind, fragment, _ in test_flux_options.REFUSED} | {
    "typo at the top": "apps: []\ndefalts: {}\n",
    "interval is a number": "apps:\n  - {name: a, kustomize: {path: a}, interval: 5}\n",
    "apps is a mapping": "apps: {name: a}\n",
    "prune is a string": "apps:\n  - {name: a, kustomize: {path: a, prune: 'yes'}}\n",
    "a source field of another kind": "sources: [{kind: HelmRepository, name: h, url: 'https://h.io', ref: {}}]\n"
                                      "apps: [{name: a, chart: {sourceRef: h, name: a}}]\n",
    "a source of an unknown kind": "sources: [{kind: Bucket, name: b}]\napps: [{name: a, chartRef: b}]\n",
    "a source without a name": "sources: [{kind: GitRepository, url: 'https://g.io/r'}]\n"
                               "apps: [{name: a, kustomize: {path: a}}]\n",
    "a reference that is a number": "apps: [{name: a, chartRef: 5}]\n",
    "an existing entry with spec fields": "sources: [{kind: GitRepository, name: g, existing: true, interval: 1m}]\n"
                                          "apps: [{name: a, kustomize: {path: a}, sourceRef: g}]\n",
    "an entry without a URL": "sources: [{kind: GitRepository, name: g}]\napps: [{name: a, kustomize: {path: a}}]\n",
    "a cluster's unknown key": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {prod: {pth: x}}\n",
    "a cluster's path is a number": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {prod: {path: 5}}\n",
    "a cluster's change is a string": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {prod: {apps: {a: x}}}\n",
    "a cluster's change is true": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {prod: {apps: {a: true}}}\n",
    "a cluster's defaults typo": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {prod: {defaults: {intrval: 1m}}}\n",
    "clusters is a list": "apps: [{name: a, kustomize: {path: a}}]\nclusters: [prod]\n",
    "a cluster name with a slash": "apps: [{name: a, kustomize: {path: a}}]\nclusters: {a/b: {}}\n",
}
BROKEN = {name: text for name, text in BROKEN.items() if verdicts(text) is not None}  # YAML errors ask no schema


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_both_schemas_agree_on_broken_specs(text):
    cerberus_ok, json_ok = verdicts(text)
    assert cerberus_ok == json_ok


def _with_options(kind: str, fragment: str) -> str:
    option = yaml.safe_load(fragment if fragment.startswith("{") else f"{{{fragment}}}")
    return test_flux_options.spec_with(kind, option)


@pytest.mark.parametrize("kind, fragment", test_flux_options.ACCEPTED, ids=[f[:40] for _, f in test_flux_options.ACCEPTED])
def test_both_schemas_accept_every_flux_option_example(kind, fragment):
    assert verdicts(_with_options(kind, fragment)) == (True, True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=test_properties.apps, mutate=st.sampled_from([None, "typo", "type", "enum"]))
def test_both_schemas_agree_on_generated_specs(generated, mutate):
    spec = test_properties.spec_of(generated)
    first = spec["apps"][0]
    if mutate == "typo":
        first["namspace"] = "x"
    elif mutate == "type":
        first["interval"] = ["5m"]
    elif mutate == "enum":
        first["driftDetection"] = {"mode": "sometimes"}
    assert verdicts(dump_all([spec])) == (mutate is None, mutate is None)
