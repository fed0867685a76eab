"""`kubectl fluxgen check`: the rules of practices.py over what a spec renders (each cluster's
objects on their own), or over the Flux objects of some files, as findings at a file and line.

A finding on a rendered object is placed where the spec says it: at the field when it is
written (in the app, a cluster's change, or `defaults:`), else at the app, the `sources:` entry
or the `notifications:` it comes from. Reads only the files it is given.
"""

from dataclasses import dataclass, replace

from fluxgen.practices import LEVELS, Rule, Scope, findings, ident, missing_alert
from fluxgen.sources import kind_of
from fluxgen.spec import Spec

_NO_ALERT = ("no Alert reports the failures of {what}: add notifications: (a Provider and an Alert with "
             "eventSeverity: error over every HelmRelease and Kustomization)")


@dataclass(frozen=True, order=True)
class Finding:
    """One rule broken at one place; sorted by file, then line."""

    file: str
    line: int
    label: str  # what breaks it: apps[3] podinfo, HelmRelease flux-system/podinfo
    level: str
    message: str
    rule: str


def format_finding(finding: Finding) -> str:
    """`FILE:LINE: OBJECT: LEVEL: message [rule-id]`, as linters print it."""
    place = f"{finding.file}:{finding.line}" if finding.line else finding.file
    return f"{place}: {finding.label}: {finding.level}: {finding.message} [{finding.rule}]"


def spec_findings(spec: Spec, disable: frozenset[str] = frozenset()) -> list[Finding]:
    """The findings on what the spec renders, each cluster's objects checked together; a finding
    only some clusters have names them."""
    from fluxgen import pipeline

    off = spec.disabled | disable
    each: list[tuple[str | None, Spec]] = [(cluster.name, cluster.spec) for cluster in spec.clusters] or \
        [(None, spec)]
    on: dict[Finding, list[str]] = {}
    for name, one in each:
        rendered = pipeline.render(one)
        scope = Scope([placed.obj for placed in rendered.objects])
        places = _Places(one, rendered.objects)
        for obj, rule, (path, message) in findings(scope, places.disabled_with(off)):
            on.setdefault(places.finding(obj, rule, path, message), []).append(name or "")
        if "failure-alert" not in off and missing_alert(scope):
            line = _line(one, ("clusters", name, "notifications")) or _line(one, ("notifications",)) or \
                _line(one, ("apps",))
            finding = Finding(spec.file, line, "notifications", "warning",
                              _NO_ALERT.format(what="its HelmReleases and Kustomizations"), "failure-alert")
            on.setdefault(finding, []).append(name or "")
    names = [name for name, _ in each]
    return sorted(finding if len(clusters) == len(names) else
                  replace(finding, message=f"{finding.message} (on cluster {', '.join(clusters)})")
                  for finding, clusters in on.items())


def _line(spec: Spec, path: tuple) -> int:
    return spec.where.lines.get(path, 0) if spec.where else 0


class _Places:
    """Where the objects of one (cluster's) spec come from: the app, `sources:` entry or
    `notifications:` entry, and the line of each field."""

    def __init__(self, spec: Spec, placed: list):
        self.spec = spec
        self.apps = {(kind_of(app), app["namespace"], app["name"]): i for i, app in enumerate(spec.apps)}
        self.by_name: dict[str, int] = {}
        for i, app in enumerate(spec.apps):
            self.by_name.setdefault(app["name"], i)
        self.owner = {id(p.obj): p.owner for p in placed}
        self.entries = {(source.kind, source.namespace, str(source.name)): source.entry for source in spec.sources
                        if source.entry is not None}

    def _app(self, obj: dict) -> int | None:
        index = self.apps.get(ident(obj))
        if index is None and self.owner.get(id(obj)) is not None:
            index = self.by_name.get(self.owner[id(obj)] or "")
        return index

    def disabled_with(self, off: frozenset[str]):
        """The rules turned off for an object: `off`, and its app's `check.disable`."""
        def disabled(obj: dict) -> frozenset[str]:
            index = self._app(obj)
            if index is None:
                return off
            return off | frozenset((self.spec.apps[index].get("check") or {}).get("disable", []))
        return disabled

    def finding(self, obj: dict, rule: Rule, path: tuple, message: str) -> Finding:
        where = self.spec.where
        assert where is not None
        field = path[1:] if path[:1] == ("spec",) else ()
        kind, _, name = ident(obj)
        index = self._app(obj)
        if kind in ("HelmRelease", "Kustomization") and index is not None:
            if field[:2] == ("chart", "spec"):
                field = ("chart",) + field[2:]
            elif kind == "Kustomization" and field[:1] in (("prune",), ("path",)):
                field = ("kustomize",) + field
            problem = where(("apps", index) + field, "", ("defaults",) + field)
            label = f"apps[{where.app_index(index)}] {self.spec.apps[index]['name']}"
        elif ident(obj) in self.entries:
            entry = self.entries[ident(obj)]
            problem = where(("sources", entry) + field, "")
            label = f"sources[{entry}] {name}"
        elif index is not None:  # a source derived from the app's chart or git
            own = ("git",) if kind == "GitRepository" else ("chart", "source")
            problem = where(("apps", index) + own + field, "", ("defaults",) + own + field)
            label = f"apps[{where.app_index(index)}] {self.spec.apps[index]['name']}"
            message = f"its {kind} {name}: {message}"
        else:
            problem = where(("apps",), "")
            label = f"{kind} {name}"
        return Finding(problem.file, problem.line, label, rule.level, message, rule.id)


def file_findings(paths: list[str], disable: frozenset[str] = frozenset()) -> tuple[list[Finding], list[str]]:
    """The findings on the Flux objects of the files and folders `paths` ("-": standard input),
    all checked together as one cluster; and what was skipped (links)."""
    from fluxgen.flux_build import NOTIFICATION_GROUP, is_flux, objects_in

    skipped: list[str] = []
    read = [item for item in objects_in(paths, skipped) if is_flux(item.obj) or
            str(item.obj.get("apiVersion", "")).split("/")[0] == NOTIFICATION_GROUP]
    scope = Scope([item.obj for item in read])
    places = {id(item.obj): item for item in read}
    result = []
    for obj, rule, (field, message) in findings(scope, lambda _: disable):
        place = places[id(obj)]
        line = next((place.lines[field[:cut]] for cut in range(len(field), 0, -1) if field[:cut] in place.lines),
                    place.line)
        kind, namespace, name = ident(obj)
        result.append(Finding(place.file, line, f"{kind} {namespace}/{name}", rule.level, message, rule.id))
    if "failure-alert" not in disable and missing_alert(scope):
        result.append(Finding(paths[0], 0, "notifications", "warning",
                              _NO_ALERT.format(what="these HelmReleases and Kustomizations"), "failure-alert"))
    return sorted(result), skipped


def summary(found: list[Finding]) -> str:
    counts = {level: sum(f.level == level for f in found) for level in LEVELS}
    return ", ".join(f"{count} {level}{'s' if count != 1 else ''}" for level, count in counts.items())

