"""Reads YAML safely and remembers the line of every value.

Stricter than yaml.safe_load where users get hurt: one document only, no duplicate keys, no
alias bombs, no nesting that would exhaust the stack, no NaN or infinity (JSON, and so
Kubernetes, has none). Plain scalars mean what they mean to kubectl and Helm (scalars.py:
`0o17` is 15, `2:30` is text); mapping keys are text as written (`true:` is the key "true",
as Kubernetes makes it); numbers keep their source text (so `version: 1.10` can become the
string "1.10", not 1.1). Never touches the disk.
"""

import contextlib
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from fluxgen import scalars
from fluxgen.errors import Problem, SpecError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 100  # far deeper than any spec or values file needs
MAX_NODES = 1_000_000  # after expanding aliases; a billion-laughs bomb stops here

Path = tuple  # of str keys and int indices
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class Int(int):
    """An int that remembers how it was written."""

    text: str


class Float(float):
    """A float that remembers how it was written ("1.10" is not 1.1 for a version)."""

    text: str


_DIGITS = re.compile(r"[-+]?[0-9][0-9_]*")


class _Loader(_BaseLoader):
    def resolve(self, kind, value, implicit):
        """The tag of a node written without one (PyYAML's own resolve, without its path resolvers,
        which fluxgen does not use)."""
        if kind is yaml.ScalarNode:
            if not implicit[0]:  # quoted or a block: text
                return scalars.STR
            tag = scalars.go_tag(value)  # plain: as kubectl and Helm read it...
            # ...except that digits beyond 64 bits stay an integer, for spec.py to say so at the line
            return scalars.INT if tag == scalars.FLOAT and _DIGITS.fullmatch(value) else tag
        return _SEQ if kind is yaml.SequenceNode else _MAP


class _BadScalar(ValueError):
    """A scalar its tag cannot hold (`!!int abc`), or a number JSON cannot hold."""


def _construct_int(loader, node) -> Int | Float:
    plain = node.value.replace("_", "")
    value = scalars.go_int(plain)
    if value is None and _DIGITS.fullmatch(node.value) and int(plain) not in range(-2**63, 2**63):
        value = int(plain)  # beyond 64 bits: spec.py says so at the line
    elif value is None and scalars.go_float(node.value) is not None:  # Go reads 08 as the number 8.0
        return _construct_float(loader, node)
    elif value is None:
        raise _BadScalar(f"{node.value!r} is not an integer")
    number = Int(value)
    number.text = node.value
    return number


def _construct_float(loader, node) -> Float:
    value = scalars.go_float(node.value)
    if value is None:
        raise _BadScalar(f"{node.value!r} is not a number that fits in 64 bits")
    if math.isinf(value) or math.isnan(value):
        raise _BadScalar(f"{node.value} is not a finite number, and Kubernetes (JSON) has no such value; quote it "
                         "to keep it as text")
    number = Float(value)
    number.text = node.value
    return number


def _construct_bool(loader, node) -> bool:
    if node.value in scalars.TRUE or node.value in scalars.FALSE:
        return node.value in scalars.TRUE
    raise _BadScalar(f"{node.value!r} is not true or false")


def _construct_null(loader, node) -> None:
    if node.value not in scalars.NULLS:
        raise _BadScalar(f"{node.value!r} is not null")
    return None


_Loader.add_constructor(scalars.INT, _construct_int)
_Loader.add_constructor(scalars.FLOAT, _construct_float)
_Loader.add_constructor(scalars.BOOL, _construct_bool)
_Loader.add_constructor(scalars.NULL, _construct_null)
# Kubernetes reads `2024-01-01` as the text it is (JSON has no dates); so does fluxgen.
_Loader.add_constructor(scalars.TIMESTAMP, lambda loader, node: node.value)


def format_path(path: Path) -> str:
    """('apps', 1, 'chart') -> 'apps[1].chart'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def decode(raw: bytes, name: str) -> str:
    """UTF-8 (a byte order mark is fine), or a clear error naming the first bad byte."""
    try:  # what decode("utf-8-sig") does, without importing that codec
        return (raw[3:] if raw[:3] == b"\xef\xbb\xbf" else raw).decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError([Problem(name, line, "", f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
                                                 f"{err.start})")]) from err


def load(text: str, name: str) -> tuple[Any, Mapping[Path, int]]:
    """Parse `text` (named `name` in errors) into plain data and a {path: line} map.

    Most documents need none of the refusals above: they are read plainly, event by event (no
    tree of nodes in memory), and their lines are found only when a message asks for one
    (Lines). The others are read again with every check."""
    with _reading(text, name) as loader:
        try:
            return _plain(loader), Lines(text, name)
        except _Unusual:
            pass
    return _careful(text, name)


def _careful(text: str, name: str) -> tuple[Any, dict[Path, int]]:
    with _reading(text, name) as loader:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_size(node, name)
        lines: dict[Path, int] = {}
        return _build(loader, node, (), lines, name), lines


class Lines(Mapping):
    """The {path: line} map of a document read plainly: read again, with every check, the first
    time a line is asked for."""

    def __init__(self, text: str, name: str):
        self._text, self._name = text, name
        self._lines: Mapping[Path, int] | None = None

    def _read(self) -> Mapping[Path, int]:
        if self._lines is None:
            self._lines = _careful(self._text, self._name)[1]
        return self._lines

    def __getitem__(self, path: Path) -> int:
        return self._read()[path]

    def __contains__(self, path: object) -> bool:
        return path in self._read()

    def __iter__(self) -> Iterator[Path]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def load_all(text: str, name: str) -> list[tuple[int, Any]]:
    """Every document of a YAML stream (Kubernetes manifests), as (first line, data); the same
    rules as load for each document; empty documents are skipped."""
    return [(line, data) for line, data, _ in load_all_lines(text, name)]


def load_all_lines(text: str, name: str) -> list[tuple[int, Any, dict[Path, int]]]:
    """load_all, with the {path: line} map of each document."""
    documents = []
    with _reading(text, name) as loader:
        while loader.check_node():
            node = loader.get_node()
            if isinstance(node, yaml.ScalarNode) and node.tag == scalars.NULL:
                continue
            _check_size(node, name)
            lines: dict[Path, int] = {}
            documents.append((node.start_mark.line + 1, _build(loader, node, (), lines, name), lines))
    return documents


@contextlib.contextmanager
def _reading(text: str, name: str) -> Iterator[Any]:
    """A loader for `text` whose failures become SpecErrors naming `name` and the line."""
    loader = _Loader(text)
    try:
        yield loader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise SpecError([Problem(name, mark.line + 1 if mark else 0, "", _yaml_message(err))]) from err
    except yaml.reader.ReaderError as err:  # a character YAML does not allow, e.g. NUL
        line = text[: err.position].count("\n") + 1
        raise SpecError([Problem(name, line, "", f"the character U+{err.character:04X} is not allowed in YAML "
                                                 "(a control character)")]) from err
    except yaml.YAMLError as err:
        raise SpecError([Problem(name, 0, "", str(err))]) from err
    except RecursionError as err:
        raise SpecError([Problem(name, 0, "", f"nested more than {MAX_DEPTH} levels deep")]) from err
    finally:
        loader.dispose()


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    said = " ".join(p for p in (err.context, err.problem) if p)
    if "expected a single document" in said:
        return "holds more than one YAML document; fluxgen reads exactly one"
    if "exceeded maximum nesting depth" in said:  # newer libyaml stops at 1000
        return f"nested more than {MAX_DEPTH} levels deep"
    return ", ".join(p for p in (err.context, err.problem) if p)


def _check_size(root: yaml.Node, name: str) -> None:
    """Refuse documents whose aliases expand past MAX_NODES, without expanding them."""
    sizes: dict[int, int] = {}
    stack = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH:
            raise SpecError([Problem(name, node.start_mark.line + 1, "", f"nested more than {MAX_DEPTH} levels deep")])
        kids = _children(node)
        if children_done or not kids:
            sizes[id(node)] = 1 + sum(sizes[id(k)] for k in kids)
            continue
        stack.append((node, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if id(k) not in sizes)
    if sizes[id(root)] > MAX_NODES:
        raise SpecError([Problem(name, 0, "", f"aliases expand to more than {MAX_NODES:,} values; refusing to "
                                              "read it")])


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def end_line(text: str, path: Path) -> int:
    """The index of the first line after the value at `path` (the text must be valid)."""
    with _reading(text, "") as loader:
        node = loader.get_single_node()
        for part in path:
            node = node.value[part] if isinstance(part, int) else next(v for k, v in node.value if k.value == part)
        while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
            last = node.value[-1]  # a block collection ends where its last value ends
            node = last[1] if isinstance(last, tuple) else last
        end = node.end_mark
        return end.line + (1 if end.column > 0 else 0)


def block_indent(text: str, path: Path) -> str | None:
    """The indentation of the keys of the block mapping at `path`, or None when the value there is
    not a block mapping with keys (flow style, empty, null); the text must be valid."""
    with _reading(text, "") as loader:
        node = loader.get_single_node()
        for part in path:
            node = node.value[part] if isinstance(part, int) else next(v for k, v in node.value if k.value == part)
        if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
            return None
        return " " * node.value[0][0].start_mark.column


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep plain data nests, counting no further than `limit` + 1 (JSON has no size guard)."""
    deepest, stack = 0, [(value, 0)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def copied(value: Any) -> Any:
    """A deep copy of plain data (mappings, lists and scalars, which are never changed in place):
    what copy.deepcopy makes of it, for a fraction of the time."""
    if isinstance(value, dict):
        return {key: copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copied(item) for item in value]
    return value


_PLAIN_TAGS = {scalars.INT, scalars.FLOAT, scalars.BOOL, scalars.NULL, scalars.STR, scalars.TIMESTAMP, _SEQ, _MAP}
_SCALAR_TAGS = _PLAIN_TAGS - {_SEQ, _MAP}
_SHAPES: dict[type, tuple[str, set[str]]] = {yaml.SequenceNode: ("a list", {_SEQ}),
                                             yaml.MappingNode: ("a mapping", {_MAP})}


class _Unusual(Exception):
    """The plain reading met what only the careful one (_build) may accept or refuse."""


def _timestamp(loader, node) -> str:
    if not scalars.is_timestamp(node.value):
        raise _BadScalar(node.value)
    return node.value


_SCALARS = {scalars.INT: _construct_int, scalars.FLOAT: _construct_float, scalars.BOOL: _construct_bool,
            scalars.NULL: _construct_null, scalars.TIMESTAMP: _timestamp}
_KEY_TAGS = frozenset({scalars.STR, *_SCALARS})
_UNTAGGED = (None, "!")
_LIST_TAGS, _MAPPING_TAGS, _KEY_OK = frozenset({*_UNTAGGED, _SEQ}), frozenset({*_UNTAGGED, _MAP}), \
    frozenset({*_UNTAGGED, *_KEY_TAGS})
_ScalarEvent, _SequenceStartEvent, _SequenceEndEvent = yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.SequenceEndEvent
_MappingStartEvent, _MappingEndEvent = yaml.MappingStartEvent, yaml.MappingEndEvent


def _plain(loader) -> Any:
    """The data _build makes of a single document where nothing is unusual: no anchors or
    aliases, YAML's own tags only, no merge keys, no duplicate keys, no nesting deeper than
    MAX_DEPTH, no more than MAX_NODES values. Read from the parser's events, as the composer would
    (its resolve included)."""
    get = loader.get_event
    get()  # the stream's start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    get()  # the document's start
    data = _value(get, get(), 0, [1])
    get()  # the document's end
    if not loader.check_event(yaml.StreamEndEvent):
        raise _Unusual  # a second document: the composer says so
    return data


def _value(get, event, depth: int, size: list[int]) -> Any:
    """The data of the node `event` starts; `size` counts the values read so far, as _check_size
    counts nodes (a key is one)."""
    kind = type(event)
    if kind is _ScalarEvent:
        return _scalar(event)
    if event.anchor is not None or depth >= MAX_DEPTH:  # an alias event has an anchor too
        raise _Unusual
    if kind is _SequenceStartEvent and event.tag in _LIST_TAGS:
        items = []
        event = get()
        while type(event) is not _SequenceEndEvent:
            items.append(_scalar(event) if type(event) is _ScalarEvent else _value(get, event, depth + 1, size))
            event = get()
        size[0] += len(items)
        if size[0] > MAX_NODES:
            raise _Unusual
        return items
    if kind is not _MappingStartEvent or event.tag not in _MAPPING_TAGS:
        raise _Unusual
    result = {}
    event = get()
    while type(event) is not _MappingEndEvent:
        key = event.value if type(event) is _ScalarEvent else None
        if key is None or key == "<<" or key in result or event.anchor is not None or event.tag not in _KEY_OK:
            raise _Unusual
        event = get()
        result[key] = _scalar(event) if type(event) is _ScalarEvent else _value(get, event, depth + 1, size)
        event = get()
    size[0] += 2 * len(result)
    if size[0] > MAX_NODES:
        raise _Unusual
    return result


def _scalar(event) -> Any:
    if event.anchor is not None:
        raise _Unusual
    tag = event.tag
    if tag in _UNTAGGED:  # what _Loader.resolve says
        value = event.value
        if not event.implicit[0]:
            return value
        tag = scalars.go_tag(value)
        if tag == scalars.FLOAT and _DIGITS.fullmatch(value):
            tag = scalars.INT
    if tag == scalars.STR:
        return event.value
    construct = _SCALARS.get(tag)
    if construct is None:
        raise _Unusual
    try:
        return construct(None, event)
    except _BadScalar:
        raise _Unusual from None


def _build(loader, node: yaml.Node, path: Path, lines: dict, name: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    where = format_path(path) or "document"
    if node.tag == scalars.MERGE and isinstance(node, yaml.ScalarNode):  # `<<` as a value is text
        return node.value
    if node.tag not in _PLAIN_TAGS:
        raise SpecError([Problem(name, node.start_mark.line + 1, where, f"the tag {node.tag} is not allowed here")])
    shape, fitting = _SHAPES.get(type(node), ("a single value", _SCALAR_TAGS))
    if node.tag not in fitting:
        raise SpecError([Problem(name, node.start_mark.line + 1, where, f"the tag {node.tag.rpartition(':')[2]!r} "
                                                                         f"does not fit {shape}")])
    if node.tag == scalars.TIMESTAMP and not scalars.is_timestamp(node.value):
        raise SpecError([Problem(name, node.start_mark.line + 1, where, f"{node.value!r} is not a date")])
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), lines, name) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(loader, node, path, lines, name)
    try:
        return loader.construct_object(node)
    except _BadScalar as err:
        raise SpecError([Problem(name, node.start_mark.line + 1, where, str(err))]) from err


def _build_mapping(loader, node: yaml.MappingNode, path: Path, lines: dict, name: str) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == scalars.MERGE:
            continue
        key = _key(key_node, name)
        if key in seen:
            raise SpecError([Problem(name, key_node.start_mark.line + 1, format_path(path + (key,)),
                                     f"duplicate key (first on line {seen[key]})")])
        seen[key] = key_node.start_mark.line + 1
    loader.flatten_mapping(node)  # resolves `<<: *anchor`; explicit keys come last and win
    result = {}
    for key_node, value_node in node.value:
        key = _key(key_node, name)
        lines[path + (key,)] = key_node.start_mark.line + 1
        result[key] = _build(loader, value_node, path + (key,), lines, name)
    return result


def _key(node: yaml.Node, name: str) -> str:
    """Keys are text, as written: Kubernetes (JSON) has no other kind of key."""
    if not isinstance(node, yaml.ScalarNode):
        raise SpecError([Problem(name, node.start_mark.line + 1, "", "a mapping key must be a plain value")])
    if node.tag not in (scalars.STR, scalars.INT, scalars.FLOAT, scalars.BOOL, scalars.NULL, scalars.TIMESTAMP):
        raise SpecError([Problem(name, node.start_mark.line + 1, "", f"the tag {node.tag} is not allowed on a key")])
    if node.value == "<<":  # quoted, since a plain one merges: kustomize drops it and all below it
        raise SpecError([Problem(name, node.start_mark.line + 1, "", "a key named << is dropped by kustomize (it "
                                                                     "reads it as a merge); give it another name")])
    return node.value
