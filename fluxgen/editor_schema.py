"""json_schema: the JSON Schema (draft 2020-12) of fluxgen.yaml, derived from schema.SCHEMA.

One source of truth: editors (yaml-language-server, IntelliJ) get the same shapes, allowed
values, patterns, descriptions and defaults that fluxgen validates with. Cross-field rules
that JSON Schema cannot say (dependency cycles, one Git ref after merging defaults, ...) stay
with fluxgen. Pure: returns a dict.
"""

from typing import Any

from fluxgen import schema
from fluxgen.schema import API_VERSION, SCHEMA, as_text

_EXISTING_KEYS = ("kind", "name", "namespace", "existing", "url", "ref")  # catalogue.py: an existing entry
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {"string": "string", "boolean": "boolean", "integer": "integer", "dict": "object", "list": "array"}
# What the check_with functions of schema.py accept, as patterns (ECMA-262, as editors run them).
_CHECKS = {
    schema.git_url: {"pattern": r"^(http|https|ssh)://[^/\s]+[^\s]*$"},
    schema.chart_url: {"pattern": r"^(?!oci://[^/]*/.*(:[^/]*|@sha256.*)$)(http|https|oci)://[^/\s]+[^\s]*$"},
    schema.repo_path: {"pattern": r"^(?!/)(?!(.*/)?\.\.(/|$))[^\u0000-\u001f\u007f\u0085\u2028\u2029]*$"},
    schema.local_path: {"pattern": r"^(?!/)(?!(.*/)?\.\.(/|$))[^\u0000-\u001f\u007f]*$"},
    schema.one_line: {"pattern": r"^[^\u0000-\u001f\u007f]*$"},
}


def json_schema() -> dict:
    """The whole document, ready for json.dumps."""
    return {"$schema": DIALECT, "$id": "https://github.com/fluxgen-dev/fluxgen/fluxgen.schema.json",
            "title": "fluxgen.yaml", "description": f"The fluxgen spec ({API_VERSION}): apps in, Flux objects out.",
            **_mapping(SCHEMA)}


def _mapping(fields: dict) -> dict:
    """A cerberus `schema` of a dict -> an object schema with its required and exclusive fields."""
    result: dict[str, Any] = {"type": "object", "properties": {k: _rules(v) for k, v in fields.items()},
                              "additionalProperties": False}
    required = [k for k, v in fields.items() if v.get("required") and "excludes" not in v]
    if required:
        result["required"] = required
    rules: list[dict] = []
    for key, value in fields.items():
        others = _as_list(value.get("excludes", []))
        if value.get("required") and others:  # cerberus' idiom for "exactly one of"
            rules.append({"oneOf": [{"required": [name]} for name in sorted({key, *others})]})
        elif others:
            rules += [{"not": {"required": [key, other]}} for other in others]
        dependencies = value.get("dependencies")
        if isinstance(dependencies, dict):  # a value the other field must have
            rules.append({"if": {"required": [key]}, "then": {
                "required": list(dependencies),
                "properties": {field: {"enum": allowed} for field, allowed in dependencies.items()}}})
        elif dependencies:
            result.setdefault("dependentRequired", {})[key] = _as_list(dependencies)
    unique = [rule for i, rule in enumerate(rules) if rule not in rules[:i]]
    if unique:
        result["allOf"] = unique
    return result


def _rules(rules: dict) -> dict:
    """One field's cerberus rules -> its JSON Schema."""
    by_kind = rules.get("meta", {}).get("by_kind")
    if by_kind:  # one schema per `kind` (a sources: entry)
        out: dict[str, Any] = {"type": "object", "required": ["kind", "name"],
                               "properties": {"kind": {"enum": list(by_kind)}},
                               "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                                          "then": _mapping(fields)} for kind, fields in by_kind.items()] + [
                                   {"if": {"properties": {"existing": {"const": True}}, "required": ["existing"]},
                                    "then": {"propertyNames": {"enum": list(_EXISTING_KEYS)}},
                                    "else": {"required": ["url"]}}]}
    elif "anyof" in rules:
        out = {"anyOf": [_rules(option) for option in rules["anyof"]]}
    elif rules.get("type") == "dict" and "schema" in rules:
        out = _mapping(rules["schema"])
    else:
        out = {"type": _TYPES[rules["type"]]} if "type" in rules else {}
    kind = rules.get("type")
    if kind == "list" and "schema" in rules:
        out["items"] = _rules(rules["schema"])
    if kind == "dict" and "valuesrules" in rules:
        out["additionalProperties"] = _rules(rules["valuesrules"])
    if kind == "dict" and "regex" in rules.get("keysrules", {}):
        out["propertyNames"] = {"pattern": rules["keysrules"]["regex"]}
    if "allowed" in rules:
        out["enum"] = list(rules["allowed"])
    if "regex" in rules:
        out["pattern"] = rules["regex"]
    elif rules.get("coerce") is as_text:  # `version: 1.10` is read as text, so numbers are fine here
        out["type"] = ["string", "number"]
    if rules.get("check_with") in _CHECKS:
        out |= _CHECKS[rules["check_with"]]
    if kind == "string" and rules.get("empty") is False:
        out["minLength"] = 1
    if "maxlength" in rules:
        out["maxLength" if kind == "string" else "maxItems"] = rules["maxlength"]
    if "minlength" in rules:
        out["minLength" if kind == "string" else "minItems"] = rules["minlength"]
    if rules.get("nullable"):
        out["type"] = [*_as_list(out.get("type", [])), "null"]
    meta = rules.get("meta", {})
    if "description" in meta:
        out["description"] = meta["description"]
    if "default" in meta:
        out["default"] = meta["default"]
    return out


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
