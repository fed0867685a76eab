"""Validate objects against the real Flux CRDs: OpenAPI schema (as the API server reads it) and CEL.

The CRDs are the Flux v2.9.4 ones pinned in tests/upstream.lock (tests/upstream.py fetches them).
openAPIV3Schema is converted before jsonschema sees it, because raw jsonschema ignores
`nullable`, accepts unknown fields and knows nothing of x-kubernetes-* (see test-setup.md).
"""

import re
from functools import cache

import celpy
import jsonschema
import upstream
import yaml

CRD_FILES = [upstream.path(relative) for relative in upstream.pinned() if "/config/crd/bases/" in relative]
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _convert(schema: dict) -> dict:
    """openAPIV3Schema -> Draft 4 JSON Schema with the API server's strictness."""
    out = {}
    for key, value in schema.items():
        if key in ("description", "default", "x-kubernetes-validations") or (
                key.startswith("x-kubernetes-") and key != "x-kubernetes-int-or-string"):
            continue
        if key == "properties":
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub) for sub in value]
        elif key == "not":
            out[key] = _convert(value)
        elif key == "nullable":
            continue
        elif key == "x-kubernetes-int-or-string":
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        else:
            out[key] = value
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@cache
def _crds() -> dict:
    """{(apiVersion, kind): (converted schema, raw schema)} for every served version."""
    found = {}
    for path in sorted(CRD_FILES):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                raw = version["schema"]["openAPIV3Schema"]
                found[(f"{group}/{version['name']}", kind)] = (_convert(raw), raw)
    return found


def problems(obj: dict) -> list[str]:
    """Everything the API server would refuse in `obj` (empty when it would accept it)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key == ("v1", "Namespace"):  # built in: a name that is a DNS label, nothing else fluxgen sets
        name = str((obj.get("metadata") or {}).get("name", ""))
        label = re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63
        return [] if label and set(obj) == {"apiVersion", "kind", "metadata"} else [f"Namespace {name!r}: invalid"]
    if key not in _crds():
        return [f"no served CRD for {key}"]
    schema, raw = _crds()[key]
    found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
             for e in jsonschema.Draft4Validator(schema).iter_errors(obj)]
    name = obj.get("metadata", {}).get("name", "")
    if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        found.append(f"metadata.name: {name!r} is not a DNS subdomain")
    if not found:
        found += _cel_problems(raw, obj, "")
    return found


@cache
def _program(rule: str):
    env = celpy.Environment()
    return env.program(env.compile(rule))


def _cel_problems(schema: dict, value, path: str) -> list[str]:
    found = []
    for check in schema.get("x-kubernetes-validations", []):
        result = _program(check["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        if not bool(result):
            found.append(f"{path or '/'}: {check['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found += _cel_problems(sub, value[name], f"{path}/{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += _cel_problems(schema["items"], item, f"{path}/{i}")
    return found


def as_stored(obj: dict) -> dict:
    """`obj` as the API server stores it and the controller reads it: the CRD's `default`s filled
    in where a field is missing under a mapping that is present (structural defaulting), and a
    boolean `false` without another default dropped (Go's zero value, `omitempty`)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    return _defaults(_crds()[key][1], obj) if key in _crds() else obj


def _defaults(schema: dict, value):
    if isinstance(value, dict):
        value = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if value.get(name) is False and sub.get("type") == "boolean" and sub.get("default") is not True:
                del value[name]
            if name in value:
                value[name] = _defaults(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_defaults(schema["items"], item) for item in value]
    return value
