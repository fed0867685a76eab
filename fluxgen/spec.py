"""load_spec: fluxgen.yaml -> a plain, validated list of apps with every default merged in.

Order of precedence: built-in defaults, then the spec's `defaults:`, then the app's own keys.
Every problem is collected and reported at once as `file:line: path: message`.
The only I/O here is reading the spec and the files it names (valuesFiles), and checking that
package folders exist.
"""

import copy
import re
import sys
from pathlib import Path
from typing import Any

import cerberus
import cerberus.schema

from fluxgen import document
from fluxgen.errors import SpecError
from fluxgen.problems import Where, by_line, did_you_mean, messages, report
from fluxgen.flux_schema import CHART_SPEC, ELSEWHERE
from fluxgen.schema import APP, DEFAULTS, GIT_REFS, ONLY_FOR, SCHEMA, SOURCE_OPTIONS
from fluxgen.resources import app_folder
from fluxgen.sources import chart_source_kind, in_git, kind_of, name_conflicts

BUILTIN_DEFAULTS = {"namespace": "flux-system", "interval": "5m", "git": {}}
DEFAULT_BRANCH = "main"
STDIN = "-"


class _TrustedSchema(cerberus.schema.DefinitionSchema):
    """SCHEMA as it is, without cerberus' check of the schema itself: that check costs more than
    reading a typical spec, at every start. tests/test_schema.py runs it instead."""

    def validate(self, schema=None):
        pass


_VALIDATORS: dict = {}


def _validator(keys: tuple = ()) -> cerberus.Validator:
    """The validator of the whole spec, or of the app fields `keys` (built once per process)."""
    if keys not in _VALIDATORS:
        schema = _fields(keys) if keys else SCHEMA
        validator = _VALIDATORS[keys] = cerberus.Validator()
        validator.schema = _TrustedSchema(validator, schema)
    return _VALIDATORS[keys]


def _fields(keys: tuple) -> dict:
    return {key: DEFAULTS[key] if key == "chart" else APP[key] for key in keys}


def read_text(path: str) -> tuple[str, str]:
    """Return (name for messages, text) of the spec file, or of standard input for '-'."""
    name = "<stdin>" if path == STDIN else path
    try:
        raw = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except FileNotFoundError as err:
        raise SpecError([f"{name}: no such file (name the spec with -f FILE)"]) from err
    except OSError as err:
        raise SpecError([f"{name}: cannot read: {err.strerror}"]) from err
    return name, document.decode(raw, name)


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
        raise SpecError(report(name, lines, validator._errors))
    where = Where(name, lines)
    apps = [merge_app(doc["defaults"], app) for app in doc["apps"]]
    problems = []
    for index, (own, app) in enumerate(zip(doc["apps"], apps)):
        problems += _check_options(own, app, index, where) + _check_merged(doc["defaults"], own, app, index, where)
        problems += _check_app(app, index, where)
    problems += _check_names(apps, where) + _check_dependencies(apps, where) + _check_packages(apps, base, where)
    if not problems:
        problems += [f"{where(('apps', i) + field, ('defaults',) + field[-2:])}: {message}"
                     for i, field, message in name_conflicts(apps)]
    if not problems:
        read: dict[Path, Any] = {}  # apps often share a values file: read and parse it once
        for index, app in enumerate(apps):
            problems += _read_values_files(app, index, base, where, read)
            problems += [f"{where(path)}: {value} does not fit in 64 bits, so Kubernetes would store another "
                         f"number; quote it to keep it as text"
                         for path, value in _huge_integers(app.get("values"), ("apps", index, "values"))]
    if problems:
        raise SpecError(by_line(problems))
    return {"file": name, "apps": apps, "base": base, "defaults": doc["defaults"],
            "warnings": _credential_warnings(apps, where)}


def merge_app(defaults: dict, app: dict) -> dict:
    """Built-ins, then defaults, then the app; a ref on the app replaces the default ref whole.
    Defaults that belong to another kind of app or source are left out."""
    base = _deep_merge(BUILTIN_DEFAULTS, _defaults_for(defaults, app))
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


def _defaults_for(defaults: dict, app: dict) -> dict:
    """The part of `defaults:` that applies to this app: options of its own kind, chart.source
    options of its own source kind, and no dependency on itself."""
    kind = kind_of(app)
    result = {key: value for key, value in defaults.items() if ONLY_FOR.get(key, kind) == kind and key != "chart"}
    source_kind = chart_source_kind(app, defaults.get("chart", {}).get("source", {}).get("type"))
    if source_kind and "source" in defaults.get("chart", {}):
        options = {k: v for k, v in defaults["chart"]["source"].items() if k in SOURCE_OPTIONS[source_kind]}
        result["chart"] = {"source": options}
    if "dependsOn" in result:
        result["dependsOn"] = [dep for dep in result["dependsOn"] if dep != app["name"]]
    return result


def _deep_merge(base: dict, over: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


_APP_KINDS = {"HelmRelease": "chart", "Kustomization": "kustomize"}


def _check_options(app: dict, merged: dict, index: int, where: Where) -> list[str]:
    """Options written on the app that belong to another kind of app or source (which kind of
    source, the merged app says: chart.source.type may come from defaults)."""
    at = ("apps", index)
    kind = kind_of(app)
    problems = []
    for key in app:
        if ONLY_FOR.get(key, kind) != kind:
            instead = ELSEWHERE.get((kind, key))
            owner = ONLY_FOR[key]
            problems.append(f"{where(at + (key,))}: applies to {_APP_KINDS[owner]} apps (a {owner} field), and "
                            f"this is a {_APP_KINDS[kind]} app" + (f"; use {instead}" if instead else ""))
    source_kind = chart_source_kind(merged)
    for key in app.get("chart", {}).get("source", {}) if source_kind else ():
        if key not in SOURCE_OPTIONS[source_kind]:
            other = "OCIRepository" if source_kind == "HelmRepository" else "HelmRepository"
            problems.append(f"{where(at + ('chart', 'source', key))}: is not a {source_kind} field (only an "
                            f"{other} has it), and chart.repository makes this source a {source_kind}")
    for key in app.get("chart", {}) if source_kind == "OCIRepository" else ():
        if key in CHART_SPEC:
            problems.append(f"{where(at + ('chart', key))}: applies to charts read through chart.spec; an oci:// "
                            "chart is read through chartRef (set chart.source.type: oci to keep a HelmRepository)")
    if "prune" in app and "prune" in app.get("kustomize", {}):
        problems.append(f"{where(at + ('prune',))}: is also set as kustomize.prune; give it once")
    return problems


def _check_merged(defaults: dict, own: dict, app: dict, index: int, where: Where) -> list[str]:
    """Mappings written both in `defaults:` and on the app (`own`) are merged into `app`; Flux's
    rules that span fields (one kubeConfig reference, retryInterval only with RetryOnFailure, ...)
    must hold for the merged result too."""
    shared = [key for key in own if isinstance(defaults.get(key), dict) and key in app and key != "chart"]
    if "source" in defaults.get("chart", {}) and "source" in own.get("chart", {}):
        shared.append("chart")
    if not shared:
        return []
    validator = _validator(tuple(shared))
    value = {key: app[key] if key != "chart" else {"source": app["chart"]["source"]} for key in shared}
    if validator.validate(value):
        return []
    return [f"{where(('apps', index) + path, ('defaults',) + path)}: {message} (after merging defaults)"
            for path, message in messages(validator._errors, _fields(tuple(shared)))]


def _check_app(app: dict, index: int, where: Where) -> list[str]:
    at = ("apps", index)
    problems = []
    chart = app.get("chart")
    if chart is not None and not ({"repository", "name"} <= chart.keys() or "path" in chart):
        problems.append(f"{where(at + ('chart',))}: needs repository and name (a chart from a repository) "
                        "or path (a chart kept in Git)")
    if in_git(app) and not app["git"].get("url"):
        problems.append(f"{where(at)}: is kept in Git but has no git.url (set it here or in defaults.git)")
    refs = [ref for ref in GIT_REFS if ref in app["git"]]
    if in_git(app) and len(refs) > 1 and refs != ["branch", "commit"]:  # Flux would silently ignore all but one
        problems.append(f"{where(at + ('git', refs[1]), ('defaults', 'git', refs[1]))}: give one Git ref "
                        f"(branch, tag, semver or commit; commit may join a branch), not {' and '.join(refs)}")
    source = app.get("chart", {}).get("source", {})
    if source.get("type") == "oci" and not app["chart"].get("repository", "").startswith("oci://"):
        problems.append(f"{where(at + ('chart', 'source', 'type'), ('defaults', 'chart', 'source', 'type'))}: "
                        "oci needs an oci:// chart.repository")
    for key in ("provider", "insecure") if chart_source_kind(app) == "HelmRepository" else ():
        if key in source and source.get("type") != "oci":
            problems.append(f"{where(at + ('chart', 'source', key), ('defaults', 'chart', 'source', key))}: "
                            "applies to OCI Helm repositories only (chart.source.type: oci)")
    if "package" in app and not in_git(app):
        problems.append(f"{where(at + ('package',))}: builds a chart kept in Git; give chart.path (where the "
                        "chart goes in the Git repository) instead of chart.repository")
    if "kustomize" not in app and "releaseName" not in app and len(app["name"]) > 53:
        problems.append(f"{where(at + ('name',))}: is longer than the 53 characters Helm allows for a release "
                        "name; set releaseName")
    return problems


def _check_packages(apps: list[dict], base: Path, where: Where) -> list[str]:
    """Each package folder exists, and no two packages go to one folder."""
    folders: dict[str, int] = {}
    problems = []
    for index, app in enumerate(apps):
        if "package" not in app or not in_git(app):  # _check_app reports packages of other apps
            continue
        at = where(("apps", index, "package"))
        if not (base / app["package"]).is_dir():
            problems.append(f"{at}: {base / app['package']} is not a folder of manifests")
        folder = app_folder(app)
        if folder in folders:
            problems.append(f"{at}: apps[{folders[folder]}] packages into {folder} already; give this app "
                            "another path")
        folders.setdefault(folder, index)
    return problems


def _check_names(apps: list[dict], where: Where) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, app in enumerate(apps):
        if app["name"] in first:
            problems.append(f"{where(('apps', index, 'name'))}: {app['name']!r} is already the name of "
                            f"apps[{first[app['name']]}]")
        first.setdefault(app["name"], index)
    return problems


def _check_dependencies(apps: list[dict], where: Where) -> list[str]:
    by_name = {app["name"]: app for app in apps}
    problems = []
    for index, app in enumerate(apps):
        for i, dep in enumerate(app.get("dependsOn", [])):
            if not isinstance(dep, str):
                continue
            at = where(("apps", index, "dependsOn", i))
            if dep not in by_name:
                problems.append(f"{at}: no app is named {dep!r}{did_you_mean(dep, by_name)}")
            elif dep == app["name"]:
                problems.append(f"{at}: an app cannot depend on itself")
            elif kind_of(by_name[dep]) != kind_of(app):
                problems.append(f"{at}: {dep!r} is a {kind_of(by_name[dep])}; a {kind_of(app)} can only "
                                f"depend on {kind_of(app)}s (use healthChecks or wait for other kinds)")
    if not problems:
        problems += _check_cycles(apps, where)
    return problems


def _check_cycles(apps: list[dict], where: Where) -> list[str]:
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


_CREDENTIAL = re.compile(r"(?i)(password|passwd|passphrase|token|secret|credential|api_?key|access_?key|private_?key"
                         r"|client_?key|^key$)")
# ...unless the key names where a credential is (existingSecret, passwordKey, tokenSecretRef, ...)
_REFERENCE = re.compile(r"(?i)(existing|name$|ref$|enabled$|create$|file$|path$|mount|(password|passwd|token)_?key$)")


def _credential_warnings(apps: list[dict], where: Where) -> list[str]:
    """Credentials written into values: they would land in Git; say how to keep them out."""
    return [f"{where(path)}{'' if path in where.lines else ' (from valuesFiles)'}: looks like a credential; keep "
            f"it out of Git: put it in a Secret and use valuesFrom: [{{kind: Secret, name: ..., valuesKey: ..., "
            f"targetPath: {'.'.join(map(str, path[3:]))}}}]"
            for index, app in enumerate(apps) for path in _credentials(app.get("values"), ("apps", index, "values"))]


def _credentials(value, path: tuple):
    """Paths of values whose key names a credential and that hold one (not a reference to a Secret)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                yield from _credentials(item, path + (key,))
            elif _CREDENTIAL.search(str(key)) and not _REFERENCE.search(str(key)) and item not in (None, "", False, True):
                yield path + (key,)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _credentials(item, path + (i,))


def _huge_integers(value, path: tuple):
    """Integers the API server's JSON decoder (int64) cannot hold: (path, value) for each."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _huge_integers(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _huge_integers(item, path + (i,))
    elif isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        yield path, value


def _read_values_files(app: dict, index: int, base: Path, where: Where, read: dict) -> list[str]:
    """Merge the app's valuesFiles (in order, `values` on top) into app["values"]; return problems."""
    merged: dict = {}
    problems = []
    for i, relative in enumerate(app.get("valuesFiles", [])):
        at = where(("apps", index, "valuesFiles", i))
        path = base / relative
        try:
            if path not in read:
                read[path] = document.load(document.decode(path.read_bytes(), str(path)), str(path))[0]
            data = read[path]
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
