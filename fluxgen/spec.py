"""load_spec: fluxgen.yaml -> a validated list of apps with every default merged in.

Order of precedence: built-in defaults, then the spec's `defaults:`, then the app's own keys.
Every problem is collected and reported at once. The only I/O here is reading the spec; the
rules that span fields live in rules.py, the values files in values.py.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from fluxgen import catalogue, document, files, rules, values
from fluxgen.errors import Problem, SpecError
from fluxgen.fastcheck import validated
from fluxgen.problems import Where, report
from fluxgen.schema import GIT_REFS, ONLY_FOR, SCHEMA, SOURCE_OPTIONS
from fluxgen.sources import Source, chart_source_kind, kind_of

BUILTIN_DEFAULTS = {"namespace": "flux-system", "interval": "5m", "git": {}}
DEFAULT_BRANCH = "main"
STDIN = "-"


@dataclass(frozen=True)
class Spec:
    """A checked spec: its apps with defaults merged, and what render needs besides."""

    file: str  # the name used in messages
    base: Path  # the folder local paths (valuesFiles, package) are relative to
    defaults: dict
    apps: list[dict]
    warnings: list[Problem]
    sources: list[Source]  # the `sources:` entries
    clusters: list["Cluster"] = field(default_factory=list)  # with `clusters:`, the spec of each
    layers: frozenset[str] = frozenset()  # the kustomize apps some app is placed under (on any cluster)
    notifications: list[dict] = field(default_factory=list)  # the `notifications:` entries, namespace set
    disabled: frozenset[str] = frozenset()  # `check: {disable: [...]}` (on the spec, not its clusters' specs)
    where: Where | None = None  # the lines of the spec's fields, for check

    def every_app(self) -> list[dict]:
        """The apps of the spec, or of every cluster."""
        return self.apps + [app for cluster in self.clusters for app in cluster.spec.apps]


class Cluster(NamedTuple):
    """One cluster of a spec with `clusters:`: its name, its bootstrap path and its own spec."""

    name: str
    path: str
    spec: Spec


def read_text(path: str) -> tuple[str, str]:
    """Return (name for messages, text) of the spec file, or of standard input for '-'."""
    name = "<stdin>" if path == STDIN else path
    try:
        raw = files.read_stdin() if path == STDIN else files.read_bytes(path)
    except files.Unreadable as err:
        said = "no such file (name the spec with -f FILE)" if str(err) == "No such file or directory" else \
            f"cannot read: {err}"
        raise SpecError([Problem(name, 0, "", said)]) from err
    return name, document.decode(raw, name)


def load_spec(path: str) -> Spec:
    """Read, validate and normalize a spec; `path` may be '-' for standard input."""
    name, text = read_text(path)
    base = Path.cwd() if path == STDIN else Path(path).parent
    return parse_spec(text, name, base)


def parse_spec(text: str, name: str, base: Path) -> Spec:
    """The pure part of load_spec (valuesFiles are still read relative to `base`)."""
    data, lines = document.load(text, name)
    if data is None:
        raise SpecError([Problem(name, 0, "", "is empty; it needs at least `apps:` with one app")])
    if not isinstance(data, dict):
        raise SpecError([Problem(name, 1, "", "must be a mapping with `apps:` (and optionally `defaults:`)")])
    doc, errors = validated("spec", SCHEMA, data)
    if doc is None:
        raise SpecError(report(name, lines, errors))
    where = Where(name, lines)
    defaults = doc["defaults"]
    source_namespace = defaults.get("sourceNamespace", defaults.get("namespace", BUILTIN_DEFAULTS["namespace"]))
    entries, problems = catalogue.check(doc["sources"], source_namespace, where)
    if problems:
        raise SpecError(problems)
    declared = catalogue.declared_sources(entries, source_namespace)
    disabled = frozenset((doc.get("check") or {}).get("disable", []))
    if doc.get("clusters") is not None:
        from fluxgen.clusters import cluster_specs  # only specs with clusters need it

        clusters = cluster_specs(doc, declared, base, where)
        warnings = sorted({w for cluster in clusters for w in cluster.spec.warnings})
        return Spec(name, base, defaults, [], warnings, declared, clusters, disabled=disabled, where=where)
    spec = checked_spec(defaults, doc["apps"], declared, base, where)
    return replace(spec, notifications=notifications(doc["notifications"], defaults, ("notifications",), where),
                   disabled=disabled)


def notifications(entries: list[dict], defaults: dict, at: tuple, where: Where) -> list[dict]:
    """The `notifications:` entries with their namespace set; two of one name and namespace are an error."""
    result, seen, problems = [], set(), []
    for index, entry in enumerate(entries):
        entry = {**entry, "namespace": entry.get("namespace") or defaults.get("namespace",
                                                                               BUILTIN_DEFAULTS["namespace"])}
        if (entry["namespace"], entry["name"]) in seen:
            problems.append(where((*at, index, "name"), f"names another entry's Provider and Alert too "
                                                        f"({entry['namespace']}/{entry['name']})"))
        seen.add((entry["namespace"], entry["name"]))
        result.append(entry)
    if problems:
        raise SpecError(problems)
    return result


def checked_spec(defaults: dict, own: list[dict], declared: list[Source], base: Path, where: Where,
                 layers: set[str] | None = None, absent: set[str] | None = None) -> Spec:
    """The Spec of apps as written (`own`) under `defaults`, once every rule holds. `layers`: the
    kustomize apps some app is placed under (on any cluster); a layer applies objects in their own
    namespaces, so it has no targetNamespace unless one is written. `absent`: the apps a cluster
    leaves out; a `sources:` entry in the layer of one of them is left out with it."""
    absent = absent or set()
    named = {str(ref.get("name") if isinstance(ref, dict) else ref).rsplit("/", 1)[-1] for app in own
             for ref in (app.get("sourceRef"), app.get("chartRef"), (app.get("chart") or {}).get("sourceRef")) if ref}
    # an entry in the layer of an app this cluster leaves out goes with it, unless an app here still reads it
    declared = [replace(source, layer=None) if source.layer in absent and source.name in named else source
                for source in declared if source.layer not in absent or source.name in named]
    if layers is None:
        layers = {app["layer"] for app in own if "layer" in app} | {s.layer for s in declared if s.layer}
    apps = [merge_app(defaults, app) for app in own]
    for app, written in zip(apps, own, strict=True):
        if app["name"] in layers and "kustomize" in app and "targetNamespace" not in {**defaults, **written}:
            app["targetNamespace"] = None
    problems = rules.check(defaults, own, apps, declared, base, where)
    if not problems:
        problems += values.read_values(apps, base, where)
    if problems:
        raise SpecError(problems)
    return Spec(where.name, base, defaults, apps, values.credential_warnings(apps, where), declared,
                layers=frozenset(layers), where=where)


def merge_app(defaults: dict, app: dict) -> dict:
    """Built-ins, then defaults, then the app; a ref on the app replaces the default ref whole.
    Defaults that belong to another kind of app or source are left out."""
    base = deep_merge(BUILTIN_DEFAULTS, _defaults_for(defaults, app))
    own_git = app.get("git", {})
    if any(ref in own_git for ref in (*GIT_REFS, "ref")):
        base["git"] = {k: v for k, v in base["git"].items() if k not in (*GIT_REFS, "ref")}
    own_ref = any(ref in own_git for ref in (*GIT_REFS, "ref"))
    if "url" in own_git or (own_ref and base["git"].get("existing") and "name" not in own_git):
        # another repository, or another ref than an existing source has: the default's name is not this one's
        base["git"] = {k: v for k, v in base["git"].items() if k not in ("name", "existing")}
    merged = _merge_into(base, app)  # base is this app's own
    git = merged["git"]
    if git.get("url") and not any(ref in git for ref in (*GIT_REFS, "ref")):
        git["branch"] = DEFAULT_BRANCH
    merged.setdefault("targetNamespace", app["name"])
    return merged


def _defaults_for(defaults: dict, app: dict) -> dict:
    """The part of `defaults:` that applies to this app: options of its own kind, chart.source
    options of its own source kind, and no dependency on itself."""
    kind = kind_of(app)
    result = {key: value for key, value in defaults.items() if ONLY_FOR.get(key, kind) == kind and key != "chart"}
    own_chart = app.get("chart", {})
    own_inline = bool(app.get("git")) or "repository" in own_chart
    own_reference = "sourceRef" in app or "chartRef" in app or "sourceRef" in own_chart
    if own_inline or own_reference:  # the app's own source wins over one inherited from defaults
        result.pop("sourceRef", None)
    source_kind = chart_source_kind(app, defaults.get("chart", {}).get("source", {}).get("type"))
    if source_kind and "source" in defaults.get("chart", {}):
        options = {k: v for k, v in defaults["chart"]["source"].items() if k in SOURCE_OPTIONS[source_kind]}
        result["chart"] = {"source": options}
    if "sourceRef" in defaults.get("chart", {}) and "chart" in app and not (own_inline or own_reference):
        result["chart"] = {"sourceRef": defaults["chart"]["sourceRef"]}
    if "dependsOn" in result:
        result["dependsOn"] = [dep for dep in result["dependsOn"] if dep != app["name"]]
    return result


def deep_merge(base: dict, over: dict) -> dict:
    """`over` merged into a copy of `base`: mappings merge, everything else is replaced."""
    return _merge_into(document.copied(base), over)


def _merge_into(result: dict, over: dict) -> dict:
    """deep_merge into `result` itself, a copy of the caller's own."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            _merge_into(result[key], value)
        else:
            result[key] = document.copied(value)
    return result
