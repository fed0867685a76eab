"""The cerberus schemas compiled into plain functions that accept valid documents fast.

cerberus stays the one description of fluxgen.yaml: its schemas (schema.py, flux_schema.py) are
the input here, and cerberus alone explains a document that is not valid. What is compiled is
the question "is this valid, and what does cerberus normalize it to?", answered with the rules
cerberus 1.3 applies, in the subset fluxgen's schemas use (with validator.py's three changes):

- normalization first: a missing field, or a null one that may not be null, takes its
  `default`; `coerce` runs on the field's value; mappings with `schema`, `keysrules` or
  `valuesrules` and lists with `schema` are normalized below, into new containers; nothing is
  normalized inside `anyof`;
- then every rule: `nullable` (a null skips all but check_with, excludes and dependencies),
  `type`, `empty` (an empty value skips allowed, the lengths, regex and check_with), `allowed`,
  lengths, `min`/`max`, `regex` (the whole value), `check_with` (never on null), `excludes`,
  `dependencies`, `schema`, `keysrules`, `valuesrules`, `anyof`; unknown fields unless
  `allow_unknown` (inherited by the mappings below); `required`, waived for the fields an
  `excludes` pairs with a required one, of which one must then be given.

A schema that uses any other rule does not compile. tests/test_fastcheck.py proves the compiled
functions agree with cerberus on generated documents, valid and not. Pure: no I/O.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Any

INVALID: Any = object()  # what a checker returns for a document cerberus would refuse

Check = Callable[[Any], Any]  # a value -> its normalized form, or INVALID

_KNOWN = {"type", "coerce", "empty", "meta", "regex", "check_with", "maxlength", "minlength", "allowed", "required",
          "excludes", "dependencies", "nullable", "default", "anyof", "keysrules", "valuesrules", "schema",
          "allow_unknown", "min", "max"}
# cerberus' types as (the classes a value is an instance of, the classes it must not be one of);
# dict and list first, which is what values are and what isinstance tells fastest
_TYPES: dict[str, tuple[tuple[type, ...], tuple[type, ...]]] = {
    "string": ((str,), ()),
    "dict": ((dict, Mapping), ()),
    "list": ((list, Sequence), (str,)),
    "boolean": ((bool,), ()),
    "integer": ((int,), (bool,)),  # validator.py's integer: never a boolean
}


_CHECKERS: dict[str, Check] = {}


def validated(key: str, schema: dict, document: Mapping) -> tuple[Any, list]:
    """(`document` normalized, []) when it is valid, else (None, cerberus' errors). The compiled
    checker of `schema` (built once per process under `key`) answers for valid documents;
    cerberus, imported only then, explains the others."""
    if key not in _CHECKERS:
        _CHECKERS[key] = compile_schema(schema)
    result = _CHECKERS[key](document)
    if result is not INVALID:
        return result, []
    from fluxgen.validator import validator_for

    validator = validator_for(key, schema)
    return validator.validated(document), validator._errors


def compile_schema(schema: dict, eager: bool = False) -> Check:
    """The checker of documents (mappings) of `schema`. Each field is compiled the first time a
    document has it (a run pays for the fields it meets), or at once if `eager` (tests prove so
    that every rule of fluxgen's schemas compiles)."""
    check = _mapping(schema, allow_unknown=False, normalize=True, eager=eager)
    return lambda document: check(document) if isinstance(document, Mapping) else INVALID


def _mapping(schema: dict, allow_unknown: bool, normalize: bool, eager: bool) -> Callable[[Mapping], Any]:
    """Normalize (unless not `normalize`), then validate, a mapping of `schema` (field -> rules)."""
    fields = {name: _field(rules, allow_unknown, normalize, eager) for name, rules in schema.items()} if eager else {}
    defaults = [(name, rules["default"], bool(rules.get("nullable"))) for name, rules in schema.items()
                if "default" in rules and normalize]
    coerces = {name: rules["coerce"] for name, rules in schema.items() if "coerce" in rules and normalize}
    required = {name for name, rules in schema.items() if rules.get("required")}
    # excludes on a required field: the fields it names (in the schema) and itself are required no more
    unrequired = {name: {name, *(other for other in _as_list(rules["excludes"]) if other in schema)}
                  for name, rules in schema.items() if "excludes" in rules and rules.get("required")}

    def check(mapping: Mapping) -> Any:
        result = dict(mapping)
        for name, default, nullable in defaults:
            if name not in result or (result[name] is None and not nullable):
                result[name] = default
        if coerces:
            for name in result:  # a mapping has fewer fields than its schema
                coerce = coerces.get(name)
                if coerce is not None:
                    result[name] = coerce(result[name])
        waived: set = set()
        for name, value in result.items():
            field = fields.get(name)
            if field is None:
                if name not in schema:
                    if not allow_unknown:
                        return INVALID
                    continue
                field = fields[name] = _field(schema[name], allow_unknown, normalize, eager)
            value = field(value, result)
            if value is INVALID:
                return INVALID
            result[name] = value
            if name in unrequired:
                waived |= unrequired[name]
        if not required.issubset(result.keys() | waived):
            return INVALID
        if waived and not any(result.get(name) is not None for name in waived):
            return INVALID
        return result

    return check


_NULL_SKIPS = {"allowed", "anyof", "empty", "keysrules", "min", "max", "minlength", "maxlength", "regex", "schema",
               "type", "valuesrules"}
_EMPTY_SKIPS = {"allowed", "minlength", "maxlength", "regex", "check_with"}


def _field(rules: dict, allow_unknown: bool, normalize: bool, eager: bool) -> Callable[[Any, dict], Any]:
    """Normalize the containers below a field's value (unless not `normalize`), then validate it;
    `mapping` is the (normalized) mapping the field is in, for excludes and dependencies."""
    unknown = set(rules) - _KNOWN
    if unknown:
        raise ValueError(f"fastcheck does not know the cerberus rule(s) {sorted(unknown)}")
    if "schema" in rules and rules.get("type") not in ("dict", "list"):
        raise ValueError("fastcheck needs the type (dict or list) of a field with a schema")
    allow_unknown = rules.get("allow_unknown", allow_unknown)
    nullable = bool(rules.get("nullable"))
    below = _containers(rules, allow_unknown, normalize, eager)
    types = _as_list(rules.get("type", []))
    kinds, not_kinds = _TYPES[types[0]] if len(types) == 1 else ((object,), ())  # one type: checked here
    tests = [(rule, test) for rule, test in _tests(rules, allow_unknown, eager) if rule != "type" or len(types) > 1]
    if_null = tuple(test for rule, test in tests if rule not in _NULL_SKIPS)
    if_empty = tuple(test for rule, test in tests if rule not in _EMPTY_SKIPS)
    every = tuple(test for _, test in tests)
    checks_empty, empty_allowed = "empty" in rules, rules.get("empty")

    def check(value: Any, mapping: dict) -> Any:
        if value is None:
            if not nullable:
                return INVALID
            for test in if_null:
                if not test(None, mapping):
                    return INVALID
            return None
        if below is not None:
            value = below(value)
            if value is INVALID:
                return INVALID
        if not isinstance(value, kinds) or isinstance(value, not_kinds):
            return INVALID
        tests = every
        if checks_empty and isinstance(value, Sized) and len(value) == 0:
            if not empty_allowed:
                return INVALID
            tests = if_empty
        for test in tests:
            if not test(value, mapping):
                return INVALID
        return value

    return check


def _containers(rules: dict, allow_unknown: bool, normalize: bool, eager: bool) -> Check | None:
    """The normalization and validation of what is inside a mapping or list value (None: nothing)."""
    inner: dict = rules.get("schema") or {}
    keys: dict | None = rules.get("keysrules")
    values: dict | None = rules.get("valuesrules")
    if not inner and keys is None and values is None:
        return None
    as_mapping = _mapping(inner, allow_unknown, normalize, eager) if rules.get("type") == "dict" and inner else None
    as_items = _field(inner, allow_unknown, normalize, eager) if inner and as_mapping is None else None
    for each in (inner if as_items else None, keys, values):  # rules that stand for every item, key or value
        if each and ({"default", "excludes", "dependencies"} & set(each) or (each is keys and "coerce" in each)):
            raise ValueError("fastcheck does not know defaults, excludes or dependencies on every item")
    key_check = _field(keys, allow_unknown, normalize, eager) if keys is not None else None
    value_check = _field(values, allow_unknown, normalize, eager) if values is not None else None
    value_coerce = values.get("coerce") if values is not None and normalize else None
    item_coerce = inner.get("coerce") if as_items is not None and normalize else None

    def check(value: Any) -> Any:
        if isinstance(value, Mapping):
            if key_check is not None and any(key_check(key, {}) is INVALID for key in value):
                return INVALID
            if value_check is not None:
                normalized = {}
                for key, item in value.items():
                    item = value_check(value_coerce(item) if value_coerce is not None else item, {})
                    if item is INVALID:
                        return INVALID
                    normalized[key] = item
                value = normalized if normalize else value
            if as_mapping is not None:
                checked = as_mapping(value)
                value = checked if normalize or checked is INVALID else value
            return value
        if isinstance(value, str) or not isinstance(value, Sequence) or as_items is None:
            return value
        items = []
        for item in value:
            item = as_items(item_coerce(item) if item_coerce is not None else item, {})
            if item is INVALID:
                return INVALID
            items.append(item)
        return items if normalize else value

    return check


def _tests(rules: dict, allow_unknown: bool, eager: bool) -> list[tuple[str, Callable[[Any, dict], bool]]]:
    """(rule, test) for each rule that validates; a test takes the value and its mapping."""
    tests: list[tuple[str, Callable[[Any, dict], bool]]] = []
    for rule, constraint in rules.items():
        test = _test(rule, constraint, rules, allow_unknown, eager)
        if test is not None:
            tests.append((rule, test))
    return tests


def _test(rule: str, constraint: Any, rules: dict, allow_unknown: bool,
          eager: bool) -> Callable[[Any, dict], bool] | None:
    if rule == "type":
        kinds = [_TYPES[name] for name in _as_list(constraint)]
        return lambda value, _: any(isinstance(value, is_) and not isinstance(value, not_) for is_, not_ in kinds)
    if rule == "allowed":
        return lambda value, _: all(item in constraint for item in value) if isinstance(
            value, Iterable) and not isinstance(value, str) else value in constraint
    if rule == "maxlength":
        return lambda value, _: not (isinstance(value, Iterable) and len(value) > constraint)  # type: ignore[arg-type]
    if rule == "minlength":
        return lambda value, _: not (isinstance(value, Iterable) and len(value) < constraint)  # type: ignore[arg-type]
    if rule in ("min", "max"):
        return lambda value, _: _compare(rule, value, constraint)
    if rule == "regex":
        fullmatch = re.compile(constraint).fullmatch
        return lambda value, _: not isinstance(value, str) or fullmatch(value) is not None
    if rule == "check_with":
        if not callable(constraint):
            raise ValueError("fastcheck only knows check_with functions")
        return lambda value, _: value is None or _passes(constraint, value)  # validator.py: never on null
    if rule == "excludes":
        excluded = _as_list(constraint)
        return lambda _, mapping: not any(name in mapping for name in excluded)
    if rule == "dependencies":
        return _dependencies(constraint)
    if rule == "anyof":
        branches = [_field({**({"type": rules["type"]} if "type" in rules and "type" not in branch else {}),
                            **branch}, allow_unknown, False, eager) for branch in constraint]
        return lambda value, mapping: any(branch(value, mapping) is not INVALID for branch in branches)
    return None  # normalization, containers (checked in _containers), meta, required, nullable


def _compare(rule: str, value: Any, limit: Any) -> bool:
    try:
        return not (value < limit if rule == "min" else value > limit)
    except TypeError:
        return True


class _Errors:
    """The `error` check_with functions call: it only counts."""

    count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


_ERRORS = _Errors()


def _passes(check: Callable, value: Any) -> bool:
    before = _ERRORS.count
    check(None, value, _ERRORS)
    return _ERRORS.count == before


def _dependencies(constraint: Any) -> Callable[[Any, dict], bool]:
    if isinstance(constraint, Mapping):
        wanted = {name: _as_list(values) for name, values in constraint.items()}
        if any("." in name or name.startswith("^") for name in wanted):
            raise ValueError("fastcheck only knows dependencies on fields beside the field")
        return lambda _, mapping: all(mapping.get(name) in values for name, values in wanted.items())
    names = _as_list(constraint)
    if any("." in name or name.startswith("^") for name in names):
        raise ValueError("fastcheck only knows dependencies on fields beside the field")
    return lambda _, mapping: all(name in mapping for name in names)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
