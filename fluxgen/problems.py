"""Problems a person can act on: cerberus' error tree turned into Problems at the right line.

Knows the line of every field (document.py recorded them) and how to say each cerberus rule
in words. Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any

from fluxgen.document import format_path
from fluxgen.errors import Problem
from fluxgen.schema import HINTS, SCHEMA


class Where:
    """Makes Problems for field paths, at the lines the document recorded."""

    def __init__(self, name: str, lines: Mapping):
        self.name, self.lines = name, lines

    def __call__(self, path: tuple, message: str, origin: tuple | None = None) -> Problem:
        """A problem with the field `path`, at the line where it was written: at `path` itself, else
        at `origin` (e.g. the defaults: key it was merged from), else at the nearest parent."""
        path, origin = self.written(path, origin)
        for candidate in (path, origin, *(path[:cut] for cut in range(len(path) - 1, -1, -1))):
            if candidate is not None and candidate in self.lines:
                return Problem(self.name, self.lines[candidate], format_path(path) or "spec", message)
        return Problem(self.name, 0, format_path(path), message)

    def written(self, path: tuple, origin: tuple | None) -> tuple[tuple, tuple | None]:
        """Where a field of the merged apps was written (clusters.py says it for a cluster's apps)."""
        return path, origin

    def app_index(self, index: int) -> int:
        """The place in the spec's `apps:` of the app at `index` of the merged apps."""
        return index


def article(kind: str) -> str:
    """`an OCIRepository`, `a HelmRepository`: the word with its article, as it is spoken."""
    return f"{'an' if kind[:1] in 'AEIOU' else 'a'} {kind}"


def did_you_mean(word: str, choices) -> str:
    """`; did you mean 'values'?` when a close match exists."""
    import difflib  # only needed when something is misspelt

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def messages(errors, schema=SCHEMA, written: Mapping | None = None) -> list[tuple[tuple, str]]:
    """Flatten cerberus' error tree (for `schema`) into (path, message) pairs a person can act on.
    `written` holds the paths present in the document, when known."""
    found = []
    for error in errors:
        if error.is_group_error and error.rule != "anyof":
            found += messages(error.child_errors, schema, written)
            continue
        path = tuple(error.document_path)
        rules = _schema_at(schema, error.schema_path[:-1])
        if _exactly_one(error, rules):  # one problem about the mapping, not one per field
            path = path[:-1]
            pair = {error.field, *_as_list(rules["excludes"])}
            if written is not None and sum(path + (key,) in written for key in pair) == 1:
                continue  # exactly one was written: its own error says what is wrong with it
        found.append((path, _message(error, schema)))
    return found


def _message(error, schema) -> str:
    if error.code == 3:  # unknown field
        keys = _schema_at(schema, error.schema_path)
        return "unknown field" + did_you_mean(str(error.field), keys)
    if error.code == 0:  # raised by a _check_with_* method
        return error.info[0]
    rules = _schema_at(schema, error.schema_path[:-1])
    if error.rule == "anyof":
        return rules.get("meta", {}).get("hint", "has the wrong form")
    if error.rule == "type" and "allowed" in rules:  # an enum: say which words it takes
        read_as = (f", not {str(error.value).lower()} (YAML reads unquoted on, off, yes and no as true or false)"
                   if isinstance(error.value, bool) else "")
        return _MESSAGES["allowed"](error, rules["allowed"]) + read_as
    if error.rule == "type" and isinstance(error.value, bool) and "string" in _as_list(error.constraint):
        return (f"must be a string, not {str(error.value).lower()} (YAML reads unquoted y, n, yes, no, on and off as "
                "true or false: quote it)")
    if _exactly_one(error, rules):
        return f"set exactly one of {' or '.join(sorted([error.field, *_as_list(rules['excludes'])]))}"
    text = _MESSAGES.get(error.rule)
    return text(error, error.constraint) if text else f"{error.rule}: {error.info}"


_TYPE_NAMES = {"string": "a string", "dict": "a mapping", "list": "a list", "boolean": "true or false"}
_MESSAGES = {
    "required": lambda e, c: "required field",
    "type": lambda e, c: "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in _as_list(c)),
    "regex": lambda e, c: HINTS.get(c, f"must match {c}"),
    "allowed": lambda e, c: f"must be {' or '.join(map(repr, c))}" if len(c) <= 8 else
    f"must be one of {', '.join(c)}" + did_you_mean(str(e.value), c),
    "minlength": lambda e, c: f"needs at least {c} item(s)",
    "maxlength": lambda e, c: f"must be at most {c} characters long",
    "empty": lambda e, c: "must not be empty",
    "nullable": lambda e, c: "must not be null",
    "excludes": lambda e, c: _excludes(e),
    "dependencies": lambda e, c: _dependencies(c),
    "min": lambda e, c: f"must be at least {c}",
    "max": lambda e, c: f"must be at most {c}",
}


def _exactly_one(error, rules) -> bool:
    """Errors of the `required` + `excludes` idiom, which means: exactly one of these fields."""
    return error.rule in ("required", "excludes") and "excludes" in rules and bool(rules.get("required"))


def _excludes(error) -> str:
    return f"cannot be combined with {' or '.join(map(repr, _as_list(error.constraint)))}"


def _dependencies(constraint) -> str:
    if isinstance(constraint, dict):  # {field: [allowed values]}
        return " and ".join(f"can only be set when {field} is {' or '.join(map(repr, values))}"
                            for field, values in constraint.items())
    return f"needs {' and '.join(map(repr, _as_list(constraint)))} as well"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _schema_at(schema: dict, schema_path: tuple):
    """The rules (or sub-schema) at a cerberus schema path."""
    node: Any = schema
    for part in schema_path:
        node = node[part]
    return node


def report(name: str, lines: Mapping, errors) -> list[Problem]:
    """cerberus' errors for the file `name` as Problems."""
    where = Where(name, lines)
    return [where(path, message) for path, message in messages(errors, written=lines)]
