"""The Flux objects, as plain dicts: one builder per kind, and build_resources for a whole spec.

Pure: no disk, no network, no printing. Every apiVersion lives in API_VERSIONS.
"""

import posixpath
from typing import NamedTuple

from fluxgen.flux_schema import CHART_SPEC
from fluxgen.practices import WAITS
from fluxgen.schema import FLUX_OPTIONS
from fluxgen.source_plan import plan_sources
from fluxgen.sources import HELM_LAYER_SELECTOR, ClusterSource, Source, kind_of, reads_path

API_VERSIONS = {
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "HelmRelease": "helm.toolkit.fluxcd.io/v2",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
    "Provider": "notification.toolkit.fluxcd.io/v1beta3",
    "Alert": "notification.toolkit.fluxcd.io/v1beta3",
}
# Sources are fetched at least as often as the 5m the apps reconcile at: Flux's guidance (sources
# short, appliers longer), so a new chart or commit never waits longer than the app's interval.
SOURCE_INTERVALS = {"GitRepository": "1m", "HelmRepository": "5m", "OCIRepository": "5m"}
# Namespaces a cluster always has (flux-system: flux bootstrap's): never written as objects.
CLUSTER_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"})
# A failed install or upgrade is retried as it is, without uninstalling or rolling back.
RETRY_ON_FAILURE = {"name": "RetryOnFailure", "retryInterval": "5m"}


def xdict(**fields) -> dict:
    """A dict without the fields that are None: optional fields simply vanish."""
    return {key: value for key, value in fields.items() if value is not None}


def flux_object(kind: str, name: str, namespace: str, spec: dict) -> dict:
    """The envelope every Flux object shares."""
    return {"apiVersion": API_VERSIONS[kind], "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def merge_options(spec: dict, options: dict) -> dict:
    """The generated spec with the user's Flux options deep-merged over it (the user wins)."""
    result = dict(spec)
    for key, value in options.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_options(result[key], value)
        else:
            result[key] = value
    return result


class Placed(NamedTuple):
    """A Flux object, the folder --output-dir writes it into when the spec has no clusters and no
    layers, and the app it belongs to (None for a `sources:` entry) with that app's layer."""

    folder: str
    obj: dict
    owner: str | None = None
    layer: str | None = None


class Built(NamedTuple):
    """The objects a spec renders to, and which sources were reused from the cluster or clash
    with it (each with the names of the apps that use it)."""

    objects: list[Placed]
    reused: list[tuple[Source, list[str]]]
    clashes: list[tuple[Source, list[str]]]
    skipped: list[tuple[Source, ClusterSource, str]]  # same-URL sources of the cluster, not reused


def source_object(source: Source) -> dict:
    """HelmRepository, OCIRepository or GitRepository for a planned or declared source."""
    kind = source.kind
    spec: dict[str, object] = {"interval": SOURCE_INTERVALS[kind], "url": source.url}
    if kind == "GitRepository":
        spec["ref"] = dict(source.ref or {"branch": "main"})  # always explicit: Flux would fall back to `master`
    if kind == "OCIRepository" and (source.ref or not source.declared):
        spec["ref"] = dict(source.ref)
    if kind == "OCIRepository" and not source.declared:  # a chart, read through chartRef
        spec["layerSelector"] = dict(HELM_LAYER_SELECTOR)
    return flux_object(kind, str(source.name), source.namespace, merge_options(spec, source.options))


def _options(app: dict) -> dict:
    """The Flux options set on (or merged into) the app, for its kind."""
    allowed = FLUX_OPTIONS[kind_of(app)]
    return {key: value for key, value in app.items() if key in allowed}


def repo_path(path: str) -> str:
    """`apps/x`, `./apps/x/` -> `./apps/x`, the form Flux documents for paths in a source."""
    clean = posixpath.normpath(path)
    return "./" if clean == "." else f"./{clean}"


def _source_ref(source: Source, app: dict) -> dict:
    return xdict(kind=source.kind, name=source.name,
                 namespace=source.namespace if source.namespace != app["namespace"] else None)


def _depends_on(app: dict, apps: list[dict]) -> list | None:
    if not app.get("dependsOn"):
        return None
    result = []
    for dep in app["dependsOn"]:
        if isinstance(dep, str):
            target = dependency(app, dep, apps)
            dep = {"name": dep, "namespace": target["namespace"] if isinstance(target, dict) else app["namespace"]}
        result.append(xdict(name=dep["name"],
                            namespace=dep.get("namespace") if dep.get("namespace") != app["namespace"] else None,
                            readyExpr=dep.get("readyExpr")))
    return result


def retries_on_failure(action) -> bool:
    """Whether fluxgen gives a HelmRelease's install or upgrade (its `action` options) the
    RetryOnFailure strategy: when it sets no strategy and no remediation of its own."""
    return not isinstance(action, dict) or not {"strategy", "remediation"} & set(action)


def _strategies(options: dict) -> dict:
    """install and upgrade with Flux's RetryOnFailure strategy, where the app chose none."""
    return {action: {"strategy": dict(RETRY_ON_FAILURE)} for action in ("install", "upgrade")
            if retries_on_failure(options.get(action))}


def helm_release(app: dict, source: Source, apps: list[dict]) -> dict:
    """HelmRelease for a chart app."""
    target = app["targetNamespace"]
    options = _options(app)
    chart = app.get("chart", {})
    spec_options = {key: value for key, value in chart.items() if key in CHART_SPEC and key != "metadata"}
    if "chartRef" in app or source.kind == "OCIRepository":
        chart_fields: dict = {"chartRef": _source_ref(source, app)}
    elif "path" in chart:
        chart_fields = {"chart": xdict(metadata=chart.get("metadata"), spec={
            "chart": repo_path(chart["path"]), "reconcileStrategy": "Revision", "sourceRef": _source_ref(source, app),
            **spec_options})}
    else:
        chart_fields = {"chart": xdict(metadata=chart.get("metadata"), spec={
            **xdict(chart=chart["name"], version=chart.get("version"), reconcileStrategy="ChartVersion",
                    sourceRef=_source_ref(source, app)), **spec_options})}
    spec = xdict(
        interval=app["interval"],
        releaseName=app.get("releaseName", app["name"]),
        targetNamespace=target,
        storageNamespace=target,
        **_strategies(options),
        dependsOn=_depends_on(app, apps),
        values=app.get("values") or None,
        **chart_fields,
    )
    return flux_object("HelmRelease", app["name"], app["namespace"], merge_options(spec, options))


def kustomization(app: dict, source: Source, apps: list[dict], depended: bool = False) -> dict:
    """Kustomization for a kustomize app (kept in Git, or in an OCI artifact). One that other
    Kustomizations depend on waits for what it applies to be ready (within its interval), so that
    they start after it has rolled out."""
    options = _options(app)
    waits = set(WAITS) & set(options) or not depended
    spec = xdict(
        interval=app["interval"],
        path=repo_path(app["kustomize"]["path"]),
        prune=app["kustomize"].get("prune", True),
        sourceRef=_source_ref(source, app),
        targetNamespace=app["targetNamespace"],
        dependsOn=_depends_on(app, apps),
        wait=None if waits else True,
        timeout=None if waits else app["interval"],
    )
    return flux_object("Kustomization", app["name"], app["namespace"], merge_options(spec, options))


def depended_on(apps: list[dict]) -> set[int]:
    """The id() of every kustomize app another Kustomization of the spec depends on."""
    by_key = {(app["namespace"], app["name"]): app for app in apps if kind_of(app) == "Kustomization"}
    found = set()
    for other in apps:
        if kind_of(other) != "Kustomization":
            continue
        for dep in other.get("dependsOn") or []:
            target: dict | str | None
            if isinstance(dep, str):
                target = by_key.get((other["namespace"], dep)) or dependency(other, dep, apps)
            else:
                target = by_key.get((dep.get("namespace", other["namespace"]), dep["name"]))
            if isinstance(target, dict):
                found.add(id(target))
    return found


def namespace_object(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def needs_namespace(app: dict, homes: set[str]) -> str | None:
    """The namespace a chart app's HelmRelease installs into, when fluxgen writes it as a Namespace
    object (the Flux maintainers' advice, instead of Helm's install.createNamespace, which
    leaves the namespace out of Flux's pruning). Not one that Flux objects live in (`homes`):
    pruning it with the app would delete them too."""
    target = app.get("targetNamespace")
    if kind_of(app) != "HelmRelease" or not target or not app.get("namespaceObject", True):
        return None
    return None if target in CLUSTER_NAMESPACES or target in homes else target


def app_folder(app: dict) -> str:
    """Where --output-dir puts an app's files: the path it deploys, or its name."""
    if reads_path(app):
        path = app["chart"]["path"] if "chart" in app else app["kustomize"]["path"]
        return repo_path(path)[2:] or "."
    return app["name"]


def dependency(app: dict, name: str, apps: list[dict]) -> dict | str:
    """The app a bare name in app's dependsOn means (the same kind, in the same namespace first),
    or why none is meant."""
    from fluxgen.problems import did_you_mean

    named = [other for other in apps if other["name"] == name]
    same_kind = [other for other in named if kind_of(other) == kind_of(app)]
    if len(same_kind) > 1:
        same_kind = [other for other in same_kind if other["namespace"] == app["namespace"]] or same_kind
    if len(same_kind) == 1:
        return same_kind[0]
    if same_kind:
        spaces = ", ".join(sorted(other["namespace"] for other in same_kind))
        return (f"{name!r} is the name of a {kind_of(app)} in namespaces {spaces}; write {{name: {name}, "
                "namespace: ...}")
    if named:
        other = kind_of(named[0])
        return (f"{name!r} is a {other}; a {kind_of(app)} can only depend on {kind_of(app)}s (use healthChecks "
                "or wait for other kinds)")
    return (f"no app is named {name!r}" + did_you_mean(name, {other["name"] for other in apps}) +
            f" (for a {kind_of(app)} that is not in this spec, write {{name: {name}, namespace: ...}})")


CATALOGUE_FOLDER = "sources"  # where --output-dir writes the `sources:` entries
NOTIFICATIONS_FOLDER = "notifications"  # and the `notifications:` entries


def notification_objects(entries: list[dict], objects: list[dict]) -> list[Placed]:
    """A Provider and an Alert per `notifications:` entry. An Alert without eventSources reports
    the errors of every Kustomization in its own namespace (flux bootstrap's included) and of
    every HelmRelease and Kustomization of `objects` elsewhere."""
    result = []
    for entry in entries:
        namespace = entry["namespace"]
        kinds: dict[str, list[str]] = {namespace: ["Kustomization"]}
        for obj in objects:
            if obj["kind"] in ("HelmRelease", "Kustomization"):
                kinds.setdefault(obj["metadata"]["namespace"], [])
                if obj["kind"] not in kinds[obj["metadata"]["namespace"]]:
                    kinds[obj["metadata"]["namespace"]].append(obj["kind"])
        sources = [xdict(kind=kind, name="*", namespace=None if where == namespace else where)
                   for where, found in kinds.items() for kind in sorted(found, reverse=True)]
        alert = merge_options({"providerRef": {"name": entry["name"]}, "eventSeverity": "error",
                               "eventSources": sources}, entry.get("alert") or {})
        result += [Placed(NOTIFICATIONS_FOLDER, flux_object("Provider", entry["name"], namespace,
                                                            dict(entry["provider"]))),
                   Placed(NOTIFICATIONS_FOLDER, flux_object("Alert", entry["name"], namespace, alert))]
    return result


def _placed(obj: dict, app: dict | None, layer: str | None = None) -> Placed:
    if app is None:  # a `sources:` entry
        return Placed(CATALOGUE_FOLDER, obj, None, layer)
    return Placed(app_folder(app), obj, app["name"], app.get("layer"))


def build(apps: list[dict], catalogue: list[Source] = [],  # noqa: B006 (never changed)
          existing: list[ClusterSource] = [], homes: frozenset[str] = frozenset()) -> Built:  # noqa: B006
    """The objects the spec needs: the releases' Namespaces, the sources, then the apps in the
    order written. `sources:` entries (`catalogue`) are always generated unless existing; sources
    the cluster already has (`existing`) are referenced, not generated. `homes`: namespaces other
    Flux objects of the spec (notifications) live in."""
    plan = plan_sources(apps, catalogue, existing)
    first: dict[int, dict] = {}  # a derived source goes with the first app that uses it
    users: dict[int, list[str]] = {}
    for app, source in zip(apps, plan.used, strict=True):
        if not source.declared:
            first.setdefault(id(source), app)
        users.setdefault(id(source), []).append(app["name"])
    depended = depended_on(apps)
    namespaces: dict[str, dict] = {}  # each written once, with the first app installed into it
    lived_in = set(homes) | {app["namespace"] for app in apps} | {source.namespace for source in plan.sources}
    for app in apps:
        target = needs_namespace(app, lived_in)
        if target is not None:
            namespaces.setdefault(target, app)
    result = [_placed(namespace_object(name), app) for name, app in namespaces.items()]
    result += [_placed(source_object(source), first.get(id(source)), source.layer) for source in plan.sources
               if not source.existing]
    for app, source in zip(apps, plan.used, strict=True):
        obj = helm_release(app, source, apps) if kind_of(app) == "HelmRelease" else \
            kustomization(app, source, apps, id(app) in depended)
        result.append(_placed(obj, app))
    return Built(result, [(source, users[id(source)]) for source in plan.sources if source.reused],
                 [(source, users[id(source)]) for source in plan.sources if source.clash], plan.skipped)
