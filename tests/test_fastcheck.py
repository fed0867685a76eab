"""The compiled checker (fluxgen/fastcheck.py) and cerberus agree: on documents generated from
fluxgen's own schemas, valid and broken at random places, the checker accepts exactly what
cerberus accepts, normalized to the same data of the same types; and every spec the examples
and the golden cases hold is accepted without asking cerberus."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen import document
from fluxgen.clusters import CHANGED
from fluxgen.document import Float, Int
from fluxgen.fastcheck import INVALID, compile_schema, validated
from fluxgen.schema import APP, DEFAULTS, SCHEMA, SOURCE_ENTRIES
from fluxgen.validator import validator_for

ROOT = Path(__file__).resolve().parent.parent
GOOD = sorted([*ROOT.glob("examples/**/fluxgen.yaml"), *ROOT.glob("tests/cases/*/fluxgen.yaml")])
SCHEMAS = {"spec": SCHEMA, "changed apps": CHANGED, **{f"source:{kind}": fields for kind, fields in
                                                         SOURCE_ENTRIES.items()},
           "merged:install,git": {key: APP[key] for key in ("install", "git")},
           "merged:chart": {"chart": DEFAULTS["chart"]}}
CHECKERS = {key: compile_schema(schema) for key, schema in SCHEMAS.items()}  # one each, as in a run


def number(text: str):
    """A number as document.py reads it: it remembers the text written."""
    value = Float(text) if "." in text else Int(text)
    value.text = text
    return value


# Values that break rules: nulls, empties, other types, numbers where text is due, lines with a
# newline, out-of-range integers.
JUNK = st.sampled_from([None, "", [], {}, True, False, 0, number("1.10"), number("7"), "two\nlines", "x" * 300,
                        2**64, -1, "UPPER", "a b", "${VAR}", "-", "5d", "https://h.io/c:1.0", [None], {"": None}])


_MADE: dict[tuple[int, int, bool], tuple[dict, st.SearchStrategy]] = {}


def _value(rules: dict, depth: int, junk: bool) -> st.SearchStrategy:
    """Values for a field of these rules: fitting ones, with `junk` one in eight of them junk
    (made once per rules)."""
    if (id(rules), depth, junk) not in _MADE:
        fitting = _fitting(rules, depth, junk)
        _MADE[id(rules), depth, junk] = rules, st.one_of(*[fitting] * 7, JUNK) if junk else fitting
    return _MADE[id(rules), depth, junk][1]


def _fitting(rules: dict, depth: int, junk: bool) -> st.SearchStrategy:
    if "anyof" in rules:
        rest = {key: value for key, value in rules.items() if key != "anyof"}
        return st.one_of([_fitting(rest | branch, depth, junk) for branch in rules["anyof"]])
    kind = rules.get("type")
    if "allowed" in rules:
        return st.sampled_from(list(rules["allowed"]))
    if kind == "string":
        if "regex" in rules:
            return st.one_of(st.from_regex(rules["regex"], fullmatch=True).map(lambda s: s[:80]),
                             st.sampled_from(["5m", "main", "a-b", "1.2.3", "oci://r.io/c", "https://h.io/c"]))
        return st.one_of(st.sampled_from(["main", "1.2.3", "apps/a", "https://h.io/charts", "ssh://git@h.io/r",
                                          "oci://r.io/charts", "git@h.io:o/r", "../up", "/abs", "podinfo"]),
                         st.text(max_size=12), st.sampled_from(["1.10", "3"]).map(number))
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.one_of(st.integers(-5, 5), st.just(2**63), st.just(number("12")))
    if kind == "list":
        item = rules.get("schema", {})
        return st.lists(_value(item, depth + 1, junk) if depth < 4 else JUNK, min_size=0 if junk else rules.get(
            "minlength", 0), max_size=2)
    if kind == "dict" or "schema" in rules or "valuesrules" in rules:
        if depth >= 4:
            return st.just({})
        if "schema" in rules:
            return _mapping(rules["schema"], depth + 1, junk)
        keys = st.sampled_from(["app", "podinfo", "prod"] + ["a/b", "HelmRelease/x", "Bad_Key"] * junk)
        return st.dictionaries(keys, _value(rules.get("valuesrules", {}), depth + 1, junk) if "valuesrules" in rules
                               else st.integers(), max_size=2)
    return JUNK


def _mapping(schema: dict, depth: int, junk: bool) -> st.SearchStrategy:
    """Mappings of `schema`: mostly one field of each exactly-one-of group (required fields that
    exclude each other), the other required fields, a few optional ones; with `junk`, now and then an
    unknown key."""
    strategies = {key: _value(rules, depth, junk) for key, rules in schema.items()}
    grouped = {key for key, rules in schema.items() if rules.get("required") and "excludes" in rules}
    required = sorted(key for key, rules in schema.items() if rules.get("required") and key not in grouped)
    optional = sorted(key for key, rules in schema.items() if not rules.get("required"))

    @st.composite
    def draw(draw_):
        chosen = set(draw_(st.lists(st.sampled_from(optional), max_size=3, unique=True))) if optional else set()
        chosen |= {key for key in required if not junk or draw_(st.integers(0, 9))}
        if grouped:
            chosen |= {draw_(st.sampled_from(sorted(grouped)))} if not junk or draw_(st.integers(0, 9)) else \
                set(draw_(st.lists(st.sampled_from(sorted(grouped)), unique=True)))
        mapping = {key: draw_(strategies[key]) for key in sorted(chosen)}
        if junk and draw_(st.integers(0, 19)) == 0:
            mapping["unknownField"] = "x"
        return mapping

    return draw()


def typed(value):
    """The value with the type of every part, so that "1.10" and 1.1 or Int and str differ."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, value, getattr(value, "text", None))


def agree(key: str, document_: dict) -> bool:
    """Whether the checker and cerberus say the same of `document_`, normalized alike."""
    fast = CHECKERS[key](document_)
    slow = validator_for(key, SCHEMAS[key]).validated(document_)
    if fast is INVALID or slow is None:
        return (fast is INVALID) == (slow is None)
    return typed(fast) == typed(slow)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_the_checker_and_cerberus_agree_on_generated_documents(data):
    key = data.draw(st.sampled_from(sorted(SCHEMAS)))
    drawn = data.draw(_mapping(SCHEMAS[key], 0, junk=data.draw(st.booleans())))
    if key == "spec" and data.draw(st.booleans()):
        drawn.setdefault("apps", [{"name": "a", "kustomize": {"path": "a"}}])
    assert agree(key, drawn)


def test_generated_documents_are_valid_often_enough_to_compare_normalized_data():
    """A generator whose documents cerberus always refuses would prove nothing about normalizing."""
    outcomes = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def count(data):
        key = data.draw(st.sampled_from(sorted(SCHEMAS)))
        outcomes.append(validator_for(key, SCHEMAS[key]).validated(data.draw(_mapping(SCHEMAS[key], 0, junk=data.draw(st.booleans())))) is not None)

    count()
    assert 0.1 < sum(outcomes) / len(outcomes) < 0.9


CASES = {  # the corners of cerberus' rules, each in a small document
    "a number where text is due becomes its text": ("spec", {"apps": [{"name": "a", "chart": {
        "repository": "https://h.io", "name": "c", "version": number("1.10")}}]}),
    "null sources take the default": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}}], "sources": None}),
    "a null targetNamespace may be null": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"},
                                                              "targetNamespace": None}]}),
    "a null interval may not": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}, "interval": None}]}),
    "an empty name is refused": ("spec", {"apps": [{"name": "", "kustomize": {"path": "a"}}]}),
    "no kind of app": ("spec", {"apps": [{"name": "a"}]}),
    "two kinds of app": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}, "chartRef": "x"}]}),
    "a number in an anyof is not coerced": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"},
                                                               "dependsOn": [{"name": number("1.5")}]}]}),
    "retryInterval needs RetryOnFailure": ("spec", {"apps": [{"name": "a", "chart": {"path": "c"}, "install": {
        "strategy": {"name": "RemediateOnFailure", "retryInterval": "1m"}}}]}),
    "retryInterval with RetryOnFailure": ("spec", {"apps": [{"name": "a", "chart": {"path": "c"}, "install": {
        "strategy": {"name": "RetryOnFailure", "retryInterval": "1m"}}}]}),
    "a repository needs a name": ("spec", {"apps": [{"name": "a", "chart": {"repository": "https://h.io"}}]}),
    "a cluster's name that is no label": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}}],
                                                  "clusters": {"a/b": {}}}),
    "a name of 64 characters": ("spec", {"apps": [{"name": "a" * 64, "kustomize": {"path": "a"}}]}),
    "a cluster of null": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}}], "clusters": {"prod": None}}),
    "a cluster's app left out": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}}],
                                          "clusters": {"prod": {"apps": {"a": False}}}}),
    "a cluster's app set true": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}}],
                                          "clusters": {"prod": {"apps": {"a": True}}}}),
    "a kubeConfig with both references": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}, "kubeConfig": {
        "configMapRef": {"name": "x"}, "secretRef": {"name": "y"}}}]}),
    "a kubeConfig with neither": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}, "kubeConfig": {}}]}),
    "an integer that is true": ("spec", {"apps": [{"name": "a", "chart": {"path": "c"}, "maxHistory": True}]}),
    "an integer past int64": ("spec", {"apps": [{"name": "a", "chart": {"path": "c"}, "maxHistory": 2**63}]}),
    "an entry's unknown field": ("source:GitRepository", {"kind": "GitRepository", "name": "g", "branch": "x"}),
    "a string map of numbers": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"}, "postBuild": {
        "substitute": {"A": number("1.10")}}}]}),
    "a list of numbers where text is due": ("spec", {"apps": [{"name": "a", "kustomize": {"path": "a"},
                                                               "components": [number("3"), "b"]}]}),
}


@pytest.mark.parametrize("key, doc", CASES.values(), ids=CASES.keys())
def test_the_checker_and_cerberus_agree_on_the_corners_of_the_rules(key, doc):
    assert agree(key, doc)


@pytest.mark.parametrize("path", GOOD, ids=[str(p.relative_to(ROOT)) for p in GOOD])
def test_every_example_and_golden_spec_passes_without_cerberus(path):
    data, _ = document.load(path.read_text(), str(path))
    fast = compile_schema(SCHEMA)(data)
    assert fast is not INVALID and typed(fast) == typed(validator_for("spec", SCHEMA).validated(data))


def test_a_broken_document_gets_cerberus_errors():
    doc, errors = validated("spec", SCHEMA, {"apps": [{"name": "a", "kustomize": {"path": "a"}, "intrval": "5m"}]})
    assert doc is None and [error.document_path for error in errors[0].child_errors] == [("apps", 0)]


@pytest.mark.parametrize("key", sorted(SCHEMAS))
def test_every_rule_of_fluxgens_schemas_compiles(key):
    compile_schema(SCHEMAS[key], eager=True)


def test_a_rule_the_checker_does_not_know_stops_it_from_compiling():
    with pytest.raises(ValueError, match="oneof"):
        compile_schema({"a": {"oneof": [{"type": "string"}, {"type": "integer"}]}}, eager=True)
