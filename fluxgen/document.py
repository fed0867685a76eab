"""Reads one YAML document safely and remembers the line of every value.

Stricter than yaml.safe_load where users get hurt: one document only, no duplicate keys,
no alias bombs, no nesting that would exhaust the stack, and numbers keep their source text
(so `version: 1.10` can become the string "1.10", not 1.1). Never touches the disk.
"""

import contextlib
from typing import Any

import yaml

from fluxgen.errors import SpecError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 100  # far deeper than any spec or values file needs
MAX_NODES = 1_000_000  # after expanding aliases; a billion-laughs bomb stops here

Path = tuple  # of str keys and int indices


class Int(int):
    """An int that remembers how it was written."""

    text: str


class Float(float):
    """A float that remembers how it was written ("1.10" is not 1.1 for a version)."""

    text: str


def _number(cls, base_method):
    def construct(loader, node):
        value = cls(base_method(loader, node))
        value.text = node.value
        return value

    return construct


class _Loader(_BaseLoader):
    pass


_Loader.add_constructor("tag:yaml.org,2002:int", _number(Int, yaml.SafeLoader.construct_yaml_int))
_Loader.add_constructor("tag:yaml.org,2002:float", _number(Float, yaml.SafeLoader.construct_yaml_float))
# Kubernetes reads `2024-01-01` as the text it is (JSON has no dates); so does fluxgen.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: node.value)


def format_path(path: Path) -> str:
    """('apps', 1, 'chart') -> 'apps[1].chart'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def decode(raw: bytes, name: str) -> str:
    """UTF-8 (a byte order mark is fine), or a clear error naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError([f"{name}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})"]) from err


def load(text: str, name: str) -> tuple[Any, dict[Path, int]]:
    """Parse `text` (named `name` in errors) into plain data and a {path: line} map."""
    with _reading(text, name) as loader:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_size(node, name)
        lines: dict[Path, int] = {}
        return _build(loader, node, (), lines, name), lines


def load_all(text: str, name: str) -> list[tuple[int, Any]]:
    """Every document of a YAML stream (Kubernetes manifests), as (first line, data); the same
    rules as load for each document; empty documents are skipped."""
    documents = []
    with _reading(text, name) as loader:
        while loader.check_node():
            node = loader.get_node()
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                continue
            _check_size(node, name)
            documents.append((node.start_mark.line + 1, _build(loader, node, (), {}, name)))
    return documents


@contextlib.contextmanager
def _reading(text: str, name: str):
    """A loader for `text` whose failures become SpecErrors naming `name` and the line."""
    loader = _Loader(text)
    try:
        yield loader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        raise SpecError([f"{name}:{line} {_yaml_message(err)}"]) from err
    except yaml.reader.ReaderError as err:  # a character YAML does not allow, e.g. NUL
        line = text[: err.position].count("\n") + 1
        raise SpecError([f"{name}:{line}: the character U+{err.character:04X} is not allowed in YAML "
                         "(a control character)"]) from err
    except yaml.YAMLError as err:
        raise SpecError([f"{name}: {err}"]) from err
    except RecursionError as err:
        raise SpecError([f"{name}: nested more than {MAX_DEPTH} levels deep"]) from err
    finally:
        loader.dispose()


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    parts = [err.context, err.problem]
    if "expected a single document" in " ".join(p for p in parts if p):
        return "holds more than one YAML document; fluxgen reads exactly one"
    if "exceeded maximum nesting depth" in " ".join(p for p in parts if p):  # newer libyaml stops at 1000
        return f"nested more than {MAX_DEPTH} levels deep"
    return ", ".join(p for p in parts if p)


def _check_size(root: yaml.Node, name: str) -> None:
    """Refuse documents whose aliases expand past MAX_NODES, without expanding them."""
    sizes: dict[int, int] = {}
    stack = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH:
            line = node.start_mark.line + 1
            raise SpecError([f"{name}:{line}: nested more than {MAX_DEPTH} levels deep"])
        kids = _children(node)
        if children_done or not kids:
            sizes[id(node)] = 1 + sum(sizes[id(k)] for k in kids)
            continue
        stack.append((node, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if id(k) not in sizes)
    if sizes[id(root)] > MAX_NODES:
        raise SpecError([f"{name}: aliases expand to more than {MAX_NODES:,} values; refusing to read it"])


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


_PLAIN_TAGS = {f"tag:yaml.org,2002:{kind}" for kind in ("seq", "map", "str", "int", "float", "bool", "null",
                                                         "timestamp")}


def _build(loader, node: yaml.Node, path: Path, lines: dict, name: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if node.tag not in _PLAIN_TAGS:
        raise SpecError([f"{name}:{node.start_mark.line + 1}: {format_path(path) or 'document'}: "
                         f"the tag {node.tag} is not allowed here"])
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), lines, name) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(loader, node, path, lines, name)
    return loader.construct_object(node)


def _build_mapping(loader, node: yaml.MappingNode, path: Path, lines: dict, name: str) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = _key(loader, key_node, name)
        if key in seen:
            where = format_path(path + (key,))
            raise SpecError([f"{name}:{key_node.start_mark.line + 1}: {where}: duplicate key "
                             f"(first on line {seen[key]})"])
        seen[key] = key_node.start_mark.line + 1
    loader.flatten_mapping(node)  # resolves `<<: *anchor`; explicit keys come last and win
    result = {}
    for key_node, value_node in node.value:
        key = _key(loader, key_node, name)
        lines[path + (key,)] = key_node.start_mark.line + 1
        result[key] = _build(loader, value_node, path + (key,), lines, name)
    return result


def _key(loader, node: yaml.Node, name: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise SpecError([f"{name}:{node.start_mark.line + 1}: a mapping key must be a plain value"])
    key = loader.construct_object(node)
    return key.text if isinstance(key, (Int, Float)) else key
