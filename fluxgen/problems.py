"""Problems a person can act on: `file:line: field.path: message`, sorted by line.

Turns cerberus' error tree into such lines and knows the line of every field (document.py
recorded them). Pure: no I/O.
"""

import re
from typing import Any

from fluxgen.document import format_path
from fluxgen.schema import HINTS, SCHEMA


class Where:
    """Turns a field path into `file:line: path` using the lines the document recorded."""

    def __init__(self, name: str, lines: dict):
        self.name, self.lines = name, lines

    def __call__(self, path: tuple, origin: tuple | None = None) -> str:
        """`path` names the field; the line is where it was written: at `path` itself, else at
        `origin` (e.g. the defaults: key it was merged from), else at the nearest parent of `path`."""
        for candidate in (path, origin, *(path[:cut] for cut in range(len(path) - 1, -1, -1))):
            if candidate is not None and candidate in self.lines:
                return f"{self.name}:{self.lines[candidate]}: {format_path(path) or 'spec'}"
        return f"{self.name}: {format_path(path)}"


def did_you_mean(word: str, choices) -> str:
    """`; did you mean 'values'?` when a close match exists."""
    import difflib  # only needed when something is misspelt

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _messages(errors) -> list[tuple[tuple, str]]:
    """Flatten cerberus' error tree into (path, message) pairs a person can act on."""
    found = []
    for error in errors:
        if error.is_group_error and error.rule != "anyof":
            found += _messages(error.child_errors)
            continue
        found.append((error.document_path, _message(error)))
    return found


def _message(error) -> str:
    if error.code == 3:  # unknown field
        keys = _schema_at(error.schema_path)
        return "unknown field" + did_you_mean(str(error.field), keys)
    if error.code == 0:  # raised by a _check_with_* method
        return error.info[0]
    text = _MESSAGES.get(error.rule)
    return text(error, error.constraint) if text else f"{error.rule}: {error.info}"


_MESSAGES = {
    "required": lambda e, c: "required field",
    "type": lambda e, c: "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in _as_list(c)),
    "regex": lambda e, c: HINTS.get(c, f"must match {c}"),
    "allowed": lambda e, c: f"must be {' or '.join(map(repr, c))}",
    "minlength": lambda e, c: f"needs at least {c} item(s)",
    "maxlength": lambda e, c: f"must be at most {c} characters long",
    "empty": lambda e, c: "must not be empty",
    "nullable": lambda e, c: "must not be null",
    "excludes": lambda e, c: _excludes(e),
    "dependencies": lambda e, c: f"needs {' and '.join(map(repr, _as_list(c)))} as well",
    "anyof": lambda e, c: _rule_meta(e.schema_path[:-1]).get("hint", "has the wrong form"),
}
_TYPE_NAMES = {"string": "a string", "dict": "a mapping", "list": "a list", "boolean": "true or false"}


def _excludes(error) -> str:
    others = _as_list(error.constraint)
    if {error.field, *others} == {"chart", "kustomize"}:
        return "set exactly one of chart or kustomize"
    return f"cannot be combined with {' or '.join(map(repr, others))}"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _schema_at(schema_path: tuple):
    """The rules (or sub-schema) at a cerberus schema path."""
    node: Any = SCHEMA
    for part in schema_path:
        node = node[part]
    return node


def _rule_meta(schema_path: tuple) -> dict:
    rules = _schema_at(schema_path)
    return rules.get("meta", {}) if isinstance(rules, dict) else {}


def report(name: str, lines: dict, errors) -> list[str]:
    """cerberus' errors for the file `name` as sorted problem lines."""
    where = Where(name, lines)
    return by_line([f"{where(tuple(path))}: {message}" for path, message in _messages(errors)])


def by_line(problems: list[str]) -> list[str]:
    """Order problems by line, as an editor would list them."""
    def key(problem: str):
        match = re.match(r"^.*?:(\d+): ", problem)
        return (int(match[1]) if match else 0, problem)
    return sorted(dict.fromkeys(problems), key=key)
