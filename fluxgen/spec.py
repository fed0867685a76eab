"""load_spec: fluxgen.yaml -> a plain, validated list of apps with every default merged in.

Order of precedence: built-in defaults, then the spec's `defaults:`, then the app's own keys.
Every problem is collected and reported at once as `file:line: path: message`.
The only I/O here is reading the spec and the files it names (valuesFiles).
"""

import copy
import re
import sys
from pathlib import Path
from typing import Any

import cerberus
import cerberus.schema

from fluxgen import document
from fluxgen.document import format_path
from fluxgen.errors import SpecError
from fluxgen.schema import GIT_REFS, HINTS, SCHEMA
from fluxgen.sources import in_git, kind_of, name_conflicts

BUILTIN_DEFAULTS = {"namespace": "flux-system", "interval": "5m", "git": {}}
DEFAULT_BRANCH = "main"
STDIN = "-"


class _TrustedSchema(cerberus.schema.DefinitionSchema):
    """SCHEMA as it is, without cerberus' check of the schema itself: that check costs more than
    reading a typical spec, at every start. tests/test_schema.py runs it instead."""

    def validate(self, schema=None):
        pass


_VALIDATOR = None


def _validator() -> cerberus.Validator:
    global _VALIDATOR  # built once per process
    if _VALIDATOR is None:
        _VALIDATOR = cerberus.Validator()
        _VALIDATOR.schema = _TrustedSchema(_VALIDATOR, SCHEMA)
    return _VALIDATOR


def read_text(path: str) -> tuple[str, str]:
    """Return (name for messages, text) of the spec file, or of standard input for '-'."""
    name = "<stdin>" if path == STDIN else path
    try:
        raw = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except FileNotFoundError as err:
        raise SpecError([f"{name}: no such file (create one with `kubectl fluxgen init`)"]) from err
    except OSError as err:
        raise SpecError([f"{name}: cannot read: {err.strerror}"]) from err
    return name, decode(raw, name)


def decode(raw: bytes, name: str) -> str:
    """UTF-8 (a byte order mark is fine), or a clear error naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError([f"{name}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})"]) from err


def load_spec(path: str) -> dict[str, Any]:
    """Read, validate and normalize a spec; `path` may be '-' for standard input."""
    name, text = read_text(path)
    base = Path.cwd() if path == STDIN else Path(path).parent
    return parse_spec(text, name, base)


def parse_spec(text: str, name: str, base: Path) -> dict[str, Any]:
    """The pure part of load_spec (valuesFiles are still read relative to `base`)."""
    data, lines = document.load(text, name)
    if data is None:
        raise SpecError([f"{name}: is empty; it needs at least `apps:` with one app"])
    if not isinstance(data, dict):
        raise SpecError([f"{name}:1: must be a mapping with `apps:` (and optionally `defaults:`)"])
    validator = _validator()
    doc = validator.validated(data)
    if doc is None:
        raise SpecError(_report(name, lines, _messages(validator._errors)))
    where = _Where(name, lines)
    apps = [merge_app(doc["defaults"], app) for app in doc["apps"]]
    problems = []
    for index, app in enumerate(apps):
        problems += _check_app(app, index, where)
    problems += _check_names(apps, where) + _check_dependencies(apps, where)
    if not problems:
        problems += [f"{where(('apps', i) + field, ('defaults',) + field[-2:])}: {message}"
                     for i, field, message in name_conflicts(apps)]
    if not problems:
        for index, app in enumerate(apps):
            problems += _read_values_files(app, index, base, where)
    if problems:
        raise SpecError(_sorted(problems))
    return {"file": name, "apps": apps}


class _Where:
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


def merge_app(defaults: dict, app: dict) -> dict:
    """Built-ins, then defaults, then the app; a ref on the app replaces the default ref whole."""
    base = _deep_merge(BUILTIN_DEFAULTS, defaults)
    own_git = app.get("git", {})
    if any(ref in own_git for ref in GIT_REFS):
        base["git"] = {k: v for k, v in base["git"].items() if k not in GIT_REFS}
    if "url" in own_git:  # another repository: the default's name belongs to the default's URL
        base["git"].pop("name", None)
    merged = _deep_merge(base, app)
    git = merged["git"]
    if git.get("url") and not any(ref in git for ref in GIT_REFS):
        git["branch"] = DEFAULT_BRANCH
    merged.setdefault("targetNamespace", app["name"])
    return merged


def _deep_merge(base: dict, over: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _check_app(app: dict, index: int, where: _Where) -> list[str]:
    at = ("apps", index)
    problems = []
    chart = app.get("chart")
    if chart is not None and not ({"repository", "name"} <= chart.keys() or "path" in chart):
        problems.append(f"{where(at + ('chart',))}: needs repository and name (a chart from a repository) "
                        "or path (a chart kept in Git)")
    if in_git(app) and not app["git"].get("url"):
        problems.append(f"{where(at)}: is kept in Git but has no git.url (set it here or in defaults.git)")
    refs = [ref for ref in GIT_REFS if ref in app["git"] and ref != "commit"]
    if in_git(app) and len(refs) > 1:
        problems.append(f"{where(at + ('git', refs[1]), ('defaults', 'git', refs[1]))}: give one Git ref "
                        f"(branch, tag, semver or commit), not {' and '.join(refs)}")
    if "package" in app:
        problems.append(f"{where(at + ('package',))}: building a chart or overlay from manifests is not "
                        "available in this version of fluxgen; remove `package:` and keep the chart in Git")
    if "kustomize" in app:
        for key in ("values", "valuesFiles", "releaseName"):
            if key in app:
                problems.append(f"{where(at + (key,))}: only applies to chart apps")
    elif "releaseName" not in app and len(app["name"]) > 53:
        problems.append(f"{where(at + ('name',))}: is longer than the 53 characters Helm allows for a release "
                        "name; set releaseName")
    return problems


def _check_names(apps: list[dict], where: _Where) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, app in enumerate(apps):
        if app["name"] in first:
            problems.append(f"{where(('apps', index, 'name'))}: {app['name']!r} is already the name of "
                            f"apps[{first[app['name']]}]")
        first.setdefault(app["name"], index)
    return problems


def _check_dependencies(apps: list[dict], where: _Where) -> list[str]:
    by_name = {app["name"]: app for app in apps}
    problems = []
    for index, app in enumerate(apps):
        for i, dep in enumerate(app.get("dependsOn", [])):
            if not isinstance(dep, str):
                continue
            at = where(("apps", index, "dependsOn", i))
            if dep not in by_name:
                problems.append(f"{at}: no app is named {dep!r}{_did_you_mean(dep, by_name)}")
            elif dep == app["name"]:
                problems.append(f"{at}: an app cannot depend on itself")
            elif kind_of(by_name[dep]) != kind_of(app):
                problems.append(f"{at}: {dep!r} is a {kind_of(by_name[dep])}; a {kind_of(app)} can only "
                                f"depend on {kind_of(app)}s (use healthChecks or wait for other kinds)")
    if not problems:
        problems += _check_cycles(apps, where)
    return problems


def _check_cycles(apps: list[dict], where: _Where) -> list[str]:
    graph = {app["name"]: [d for d in app.get("dependsOn", []) if isinstance(d, str)] for app in apps}
    index = {app["name"]: i for i, app in enumerate(apps)}
    state: dict[str, str] = {}
    for start in graph:
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = "open"
        while stack:
            node, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(dep) == "open":
                cycle = path[path.index(dep):] + [dep]
                return [f"{where(('apps', index[node], 'dependsOn'))}: dependency cycle: {' -> '.join(cycle)}"]
            elif dep not in state:
                state[dep] = "open"
                stack.append((dep, iter(graph[dep])))
                path.append(dep)
    return []


def _read_values_files(app: dict, index: int, base: Path, where: _Where) -> list[str]:
    merged: dict = {}
    problems = []
    for i, relative in enumerate(app.get("valuesFiles", [])):
        at = where(("apps", index, "valuesFiles", i))
        path = base / relative
        try:
            data, _ = document.load(decode(path.read_bytes(), str(path)), str(path))
        except FileNotFoundError:
            problems.append(f"{at}: {path} does not exist")
            continue
        except OSError as err:
            problems.append(f"{at}: cannot read {path}: {err.strerror}")
            continue
        except SpecError as err:
            problems += err.problems
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{at}: {path} must hold a mapping of Helm values")
            continue
        merged = _deep_merge(merged, data)
    if "valuesFiles" in app and not problems:
        app["values"] = _deep_merge(merged, app.get("values", {}))
    return problems


def _did_you_mean(word: str, choices) -> str:
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
        return "unknown field" + _did_you_mean(str(error.field), keys)
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


def _report(name: str, lines: dict, found: list[tuple[tuple, str]]) -> list[str]:
    where = _Where(name, lines)
    return _sorted([f"{where(tuple(path))}: {message}" for path, message in found])


def _sorted(problems: list[str]) -> list[str]:
    """Order problems by line, as an editor would list them."""
    def key(problem: str):
        match = re.match(r"^.*?:(\d+): ", problem)
        return (int(match[1]) if match else 0, problem)
    return sorted(dict.fromkeys(problems), key=key)
