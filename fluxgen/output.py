"""Objects -> text: the YAML stream (like `flux create --export`) and the JSON List.

The YAML is read back the same by PyYAML (YAML 1.1), Go's yaml.v2 (kubectl, Helm: `y`, `0o17`
and `1_e3` are not text there) and yaml.v3 (kustomize, Flux): every string any of them would
read as something else is quoted (scalars.needs_quotes). Pure: returns text, never prints.
"""

import re
from typing import Any

import yaml

from fluxgen import scalars
from fluxgen.document import Float, Int

_QUOTE = "tag:fluxgen,2026:quoted"  # never written: it only makes the emitter quote


class _Dumper(yaml.SafeDumper):
    """PyYAML's own emitter, never libyaml's: libyaml writes other bytes in corner cases (emoji,
    odd keys, block scalars), and the same spec must give the same bytes with or without it."""

    def ignore_aliases(self, data):  # never write anchors: reviewers and kubectl want plain objects
        return True

    def resolve(self, kind, value, implicit):
        """What a plain `value` would be read as; a string that any reader takes for something
        else (scalars.needs_quotes) gets a tag of its own, so the emitter quotes it."""
        if kind is yaml.ScalarNode and implicit[0]:
            tag = scalars.go_tag(value)
            if tag == scalars.STR and scalars.needs_quotes(value):
                return _QUOTE
            return tag
        return super().resolve(kind, value, implicit)


_BREAKS = ("\x85", "\u2028", "\u2029", "\ufeff")  # line breaks to YAML 1.1 readers: always escape them


def _str(dumper, text: str):
    style = '"' if any(ch in text for ch in _BREAKS) else "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(Int, lambda dumper, value: dumper.represent_int(int(value)))
_Dumper.add_representer(Float, lambda dumper, value: dumper.represent_float(float(value)))


def dump_all(docs: list[Any], sort_keys: bool = True) -> str:
    """A YAML stream: `---` before each object, keys sorted (or as given), lists not indented,
    nothing folded."""
    return "".join(_fast(doc, sort_keys) or _pyyaml(doc, sort_keys) for doc in docs)


def _pyyaml(doc: Any, sort_keys: bool) -> str:
    return yaml.dump_all([doc], Dumper=_Dumper, explicit_start=True, sort_keys=sort_keys, allow_unicode=True,
                         width=2**31 - 1, default_flow_style=False)


# ---- the same bytes, faster -------------------------------------------------------------------------
# PyYAML's emitter is most of the time of a large render. Most objects hold only scalars that it
# writes plain or single-quoted, and for those the layout is fixed: this writes them directly. Any
# other scalar (double-quoted, multi-line, a float, a long key) sends the whole object to PyYAML. tests/test_output.py
# checks that both give the same bytes.

class _Slow(Exception):
    """This object needs PyYAML's emitter."""


_TEXT: dict[str, str | None] = {}
_PROBE = _Dumper(None, allow_unicode=True)  # type: ignore[arg-type]  # never writes: it only analyzes


# Text PyYAML's analysis would find no indicator, space or special character in (a `:` only
# inside): plain, unless a reader would take it for something else, then 'single-quoted'.
_SIMPLE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9._/:@]*[-A-Za-z0-9._/@])?")


def _text(text: str) -> str | None:
    """How PyYAML writes a one-line string, as a key and as a value (plain or 'single-quoted'),
    or None when it would do something else."""
    written = None
    if len(text) < 128 and _SIMPLE.fullmatch(text):
        written = text if _PROBE.resolve(yaml.ScalarNode, text, (True, False)) == scalars.STR else f"'{text}'"
    elif len(text) < 128 and "\n" not in text and not any(ch in text for ch in _BREAKS):
        analysis = _PROBE.analyze_scalar(text)
        plain = _PROBE.resolve(yaml.ScalarNode, text, (True, False)) == scalars.STR
        if plain and text and analysis.allow_block_plain:
            written = text
        elif analysis.allow_single_quoted and not analysis.multiline:
            written = "'" + text.replace("'", "''") + "'"
    _TEXT[text] = written
    return written


def _word(text: str) -> str:
    """How a string is written (remembered), or _Slow."""
    written = _TEXT[text] if text in _TEXT else _text(text)
    if written is None:
        raise _Slow
    return written


def _scalar(value) -> str:
    if isinstance(value, str):
        return _word(value)
    elif value is None:
        return "null"
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, int):
        if scalars.go_int(str(int(value))) == value:  # beyond 64 bits, Go would not read it back as this number
            return str(int(value))
    elif value == {}:
        return "{}"
    elif value == []:
        return "[]"
    raise _Slow


def _fast(doc: Any, sort_keys: bool) -> str | None:
    if not isinstance(doc, dict) or not doc:
        return None
    out = ["---\n"]
    try:
        _mapping(doc, 0, out, None, sort_keys)
    except (_Slow, TypeError):
        return None
    return "".join(out)


def _mapping(mapping: dict, indent: int, out: list, lead: str | None, sort_keys: bool) -> None:
    pad = " " * indent
    for key in sorted(mapping) if sort_keys else mapping:
        value = mapping[key]
        if not isinstance(key, str) or not key:  # PyYAML writes an empty key as `? ''`
            raise _Slow
        start = lead if lead is not None else pad
        lead = None
        name = _TEXT.get(key) or _word(key)  # the common cases first, without a call
        if type(value) is str:
            out.append(f"{start}{name}: {_TEXT.get(value) or _word(value)}\n")
        elif isinstance(value, dict) and value:
            out.append(f"{start}{name}:\n")
            _mapping(value, indent + 2, out, None, sort_keys)
        elif isinstance(value, list) and value:
            out.append(f"{start}{name}:\n")
            _sequence(value, indent, out, None, sort_keys)  # PyYAML does not indent a list under a key
        else:
            out.append(f"{start}{name}: {_scalar(value)}\n")


def _sequence(items: list, indent: int, out: list, lead: str | None, sort_keys: bool) -> None:
    pad = " " * indent
    for item in items:
        start = (lead if lead is not None else pad) + "- "
        lead = None
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, start, sort_keys)
        elif isinstance(item, list) and item:
            _sequence(item, indent + 2, out, start, sort_keys)
        else:
            out.append(f"{start}{_scalar(item)}\n")


def dump(doc: Any) -> str:
    """One YAML document without the `---` line, keys in the order given (files people edit)."""
    return dump_all([doc], sort_keys=False)[4:]


class _Compact(_Dumper):
    """A small mapping of short one-line scalars on one line (`{path: ./apps, prune: false}`),
    for specs people read: import's output."""

    def represent_mapping(self, tag, mapping, flow_style=None):
        node = super().represent_mapping(tag, mapping, flow_style)
        values = list(mapping.values()) if isinstance(mapping, dict) else []
        if values and len(values) <= 4 and all(
                isinstance(v, (int, float, bool)) or (isinstance(v, str) and "\n" not in v and not any(
                    ch in v for ch in _BREAKS)) for v in values) and \
                sum(len(str(k)) + len(str(v)) + 4 for k, v in mapping.items()) <= 72:
            node.flow_style = True
        return node


def dump_compact(doc: Any) -> str:
    """One YAML document, keys in the order given, small mappings of scalars in flow style."""
    return yaml.dump(doc, Dumper=_Compact, sort_keys=False, allow_unicode=True, width=2**31 - 1,
                     default_flow_style=False)


def dump_json(docs: list[dict]) -> str:
    """A v1 List, as `kubectl get -o json` prints one."""
    import json  # only -o json needs it

    listing = {"apiVersion": "v1", "kind": "List", "items": docs}
    return json.dumps(listing, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


FILE_NAMES = {
    "Namespace": "namespace.yaml",
    "HelmRepository": "helmrepository.yaml",
    "OCIRepository": "ocirepository.yaml",
    "GitRepository": "gitrepository.yaml",
    "HelmRelease": "helmrelease.yaml",
    "Kustomization": "flux-kustomization.yaml",  # kustomization.yaml is kustomize's own file
    "Provider": "provider.yaml",
    "Alert": "alert.yaml",
}
