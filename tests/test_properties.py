"""Specs nobody wrote by hand: every valid spec renders to objects the Flux CRDs accept, the same
way every time, and hostile values reach the objects unchanged."""

from pathlib import Path

import crds
from conftest import rendered
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen.output import dump_all
from fluxgen.spec import parse_spec

label = st.from_regex(r"\A[a-z]([a-z0-9-]{0,20}[a-z0-9])?\Z")
duration = st.from_regex(r"\A([1-9][0-9]{0,2}(ms|s|m|h)){1,2}\Z")
text = st.text(max_size=30).filter(lambda key: key != "<<")  # kustomize drops such a key: refused
values = st.recursive(st.one_of(text, st.integers(-2**63, 2**63 - 1), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                      lambda inner: st.dictionaries(text, inner, max_size=3) | st.lists(inner, max_size=3),
                      max_leaves=10)
host = st.sampled_from(["charts.example.com", "Example.ORG", "registry.io:5000", "a.b.c.d.example.dev"])
repo_path = st.from_regex(r"\A(\./)?[a-z0-9]{1,8}(/[a-z0-9_.-]{1,8}){0,3}/?\Z").filter(lambda p: ".." not in p)
version = st.one_of(st.from_regex(r"\Av?[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-rc\.[0-9])?\Z"),
                    st.sampled_from(["6.x", ">=1.0.0 <2.0.0", "~1.2", "*", "1.10"]))
git = st.fixed_dictionaries({"url": st.builds(lambda h, p: f"https://{h}/{p}.git", host, label)},
                            optional={"tag": version, "name": label})
chart = st.one_of(
    st.fixed_dictionaries({"repository": st.builds(lambda s, h, p: f"{s}://{h}/{p}", st.sampled_from(["https", "oci"]),
                                                   host, label), "name": label},
                          optional={"version": version}),
    st.fixed_dictionaries({"path": repo_path}))
app = st.fixed_dictionaries(
    {"name": label},
    optional={"namespace": label, "interval": duration, "targetNamespace": st.one_of(label, st.none()), "git": git})
apps = st.lists(st.tuples(app, st.one_of(chart.map(lambda c: {"chart": c}),
                                         st.fixed_dictionaries({"kustomize": st.fixed_dictionaries(
                                             {"path": repo_path}, optional={"prune": st.booleans()})})),
                          values),
                min_size=1, max_size=6, unique_by=lambda a: a[0]["name"])


def spec_of(generated) -> dict:
    result = []
    for base, kind, vals in generated:
        entry = {**base, **kind}
        if "chart" in kind and vals and isinstance(vals, dict):
            entry["values"] = vals
        result.append(entry)
    return {"defaults": {"git": {"url": "https://github.com/org/fleet.git"}}, "apps": result}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(apps)
def test_generated_specs_render_valid_objects_identically_twice(generated):
    spec = spec_of(generated)
    text = dump_all([spec])
    first = parse_spec(text, "fluxgen.yaml", Path("."))
    docs = rendered(first.apps)
    for doc in docs:
        assert crds.problems(doc) == [], doc
    again = rendered(parse_spec(text, "fluxgen.yaml", Path(".")).apps)
    assert dump_all(again) == dump_all(docs)
    releases = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HelmRelease"}
    for entry in spec["apps"]:
        if "values" in entry:
            assert releases[entry["name"]]["spec"]["values"] == entry["values"]
