"""The Flux objects, as plain dicts: one builder per kind, and build_resources for a whole spec.

Pure: no disk, no network, no printing. Every apiVersion lives in API_VERSIONS.
"""

import posixpath
from dataclasses import dataclass

from fluxgen.flux_schema import CHART_SPEC
from fluxgen.schema import FLUX_OPTIONS
from fluxgen.sources import OCI_HELM_LAYER, ClusterSource, Source, in_git, kind_of, plan_sources

API_VERSIONS = {
    "HelmRepository": "source.toolkit.fluxcd.io/v1",
    "OCIRepository": "source.toolkit.fluxcd.io/v1",
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "HelmRelease": "helm.toolkit.fluxcd.io/v2",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
}
SOURCE_INTERVALS = {"GitRepository": "1m", "HelmRepository": "1h", "OCIRepository": "1h"}


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


@dataclass(frozen=True)
class Placed:
    """A Flux object and the folder --output-dir writes it into."""

    folder: str
    obj: dict


@dataclass(frozen=True)
class Built:
    """The objects a spec renders to, and which sources were reused from the cluster or clash
    with it (each with the names of the apps that use it)."""

    objects: list[Placed]
    reused: list[tuple[Source, list[str]]]
    clashes: list[tuple[Source, list[str]]]


def source_object(source: Source) -> dict:
    """HelmRepository, OCIRepository or GitRepository for a planned source."""
    kind = source.kind
    spec: dict[str, object] = {"interval": SOURCE_INTERVALS[kind], "url": source.url}
    if kind == "GitRepository":
        spec["ref"] = dict(source.ref)  # always explicit: Flux would fall back to `master`
    if kind == "OCIRepository":
        spec["ref"] = dict(source.ref)
        spec["layerSelector"] = {"mediaType": OCI_HELM_LAYER, "operation": "copy"}
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


def _depends_on(app: dict, apps_by_name: dict) -> list | None:
    if not app.get("dependsOn"):
        return None
    result = []
    for dep in app["dependsOn"]:
        if isinstance(dep, str):
            namespace = apps_by_name[dep]["namespace"]
            dep = {"name": dep, "namespace": namespace}
        result.append(xdict(name=dep["name"],
                            namespace=dep.get("namespace") if dep.get("namespace") != app["namespace"] else None,
                            readyExpr=dep.get("readyExpr")))
    return result


def helm_release(app: dict, source: Source, apps_by_name: dict) -> dict:
    """HelmRelease for a chart app."""
    target = app["targetNamespace"]
    chart = app["chart"]
    spec_options = {key: value for key, value in chart.items() if key in CHART_SPEC and key != "metadata"}
    if source.kind == "OCIRepository":
        chart_fields = {"chartRef": _source_ref(source, app)}
    elif source.kind == "GitRepository":
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
        install={"createNamespace": True} if target else None,
        dependsOn=_depends_on(app, apps_by_name),
        values=app.get("values") or None,
        **chart_fields,
    )
    return flux_object("HelmRelease", app["name"], app["namespace"], merge_options(spec, _options(app)))


def kustomization(app: dict, source: Source, apps_by_name: dict) -> dict:
    """Kustomization for a kustomize app kept in Git."""
    spec = xdict(
        interval=app["interval"],
        path=repo_path(app["kustomize"]["path"]),
        prune=app["kustomize"].get("prune", True),
        sourceRef=_source_ref(source, app),
        targetNamespace=app["targetNamespace"],
        dependsOn=_depends_on(app, apps_by_name),
    )
    return flux_object("Kustomization", app["name"], app["namespace"], merge_options(spec, _options(app)))


def app_folder(app: dict) -> str:
    """Where --output-dir puts an app's files: its Git path, or its name."""
    if in_git(app):
        path = app["chart"]["path"] if "chart" in app else app["kustomize"]["path"]
        return repo_path(path)[2:] or "."
    return app["name"]


def build(apps: list[dict], existing: tuple[ClusterSource, ...] | list[ClusterSource] = ()) -> Built:
    """The objects the spec needs, sources first, then the apps in the order written; the sources
    the cluster already has (`existing`) are referenced, not generated."""
    sources, app_sources = plan_sources(apps, existing)
    folders: dict[int, str] = {}
    users: dict[int, list[str]] = {}
    for app, source in zip(apps, app_sources, strict=True):
        folders.setdefault(id(source), app_folder(app))
        users.setdefault(id(source), []).append(app["name"])
    apps_by_name = {app["name"]: app for app in apps}
    builders = {"HelmRelease": helm_release, "Kustomization": kustomization}
    result = [Placed(folders[id(source)], source_object(source)) for source in sources if not source.existing]
    for app, source in zip(apps, app_sources, strict=True):
        result.append(Placed(app_folder(app), builders[kind_of(app)](app, source, apps_by_name)))
    return Built(result, [(source, users[id(source)]) for source in sources if source.existing],
                 [(source, users[id(source)]) for source in sources if source.clash])
