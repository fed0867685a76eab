"""The steps of `render` in order: read the spec, ask the cluster, build the Flux objects,
package manifests."""

from pathlib import Path
from typing import NamedTuple

from fluxgen.errors import ClusterError, Problem, SpecError
from fluxgen.resources import Placed, app_folder, build, notification_objects
from fluxgen.sources import ClusterSource, Source, kind_of
from fluxgen.spec import Spec


class Package(NamedTuple):
    """The chart or overlay built from an app's `package:` folder."""

    folder: str  # its place in the output folder
    files: dict[str, str]  # path under the output folder -> text


class Rendered(NamedTuple):
    """Everything `render` produces."""

    objects: list[Placed]
    packages: dict[str, Package]  # by app: "NAME (KIND in NAMESPACE)"
    warnings: list[Problem]
    notes: list[str]


class ClusterFlags(NamedTuple):
    """How to reach the cluster for --reuse-existing (kubectl's own flags)."""

    context: str | None = None
    kubeconfig: str | None = None
    request_timeout: str | None = None


def render(spec: Spec, cluster: ClusterFlags | None = None) -> Rendered:
    """The objects of a spec (or of one cluster's spec); with `cluster`, reuse the sources the
    cluster already has."""
    packages, warnings = _packages(spec) if any("package" in app for app in spec.apps) else ({}, [])
    existing: list[ClusterSource] = []
    notes: list[str] = []
    if cluster is not None:
        from fluxgen.cluster import existing_sources

        existing, notes = existing_sources(cluster.context, cluster.kubeconfig, cluster.request_timeout)
        notes = [f"warning: {note}" for note in notes]
    built = build(spec.apps, spec.sources, existing, frozenset(entry["namespace"] for entry in spec.notifications))
    if built.clashes:
        raise ClusterError("\n".join(_clash(source, names) for source, names in built.clashes))
    notes += [_reuse_note(source, names, spec.apps) for source, names in built.reused]
    notes += [f"not reused: the cluster's {theirs.kind} {theirs.namespace}/{theirs.name} has the same URL, but "
              f"{reason}; generating {source.namespace}/{source.name}" for source, theirs, reason in built.skipped
              if not source.reused]
    objects = built.objects + notification_objects(spec.notifications, [placed.obj for placed in built.objects])
    return Rendered(objects, packages, spec.warnings + warnings, notes)


def cluster_named(spec: Spec, name: str | None) -> Spec:
    """The spec of the cluster `name` (or the spec itself, without clusters)."""
    return next((cluster.spec for cluster in spec.clusters if cluster.name == name), spec)


def repository(spec: Spec, cluster: ClusterFlags | None = None) -> tuple[dict[str, str], list[Problem], list[str]]:
    """What --output-dir writes: {path: text} of every cluster (or of the spec), warnings, notes."""
    from fluxgen.layout import Part, layer_folders, tree

    parts, warnings, notes = [], [], []
    each: list[tuple[str | None, str | None, Spec]] = [(c.name, c.path, c.spec) for c in spec.clusters]
    for name, root, one in each or [(None, None, spec)]:
        result = render(one, cluster)
        packaged = {path: text for package in result.packages.values() for path, text in package.files.items()}
        parts.append(Part(name, root, result.objects, packaged, layer_folders(one.apps, one.layers)))
        warnings += result.warnings
        notes += result.notes
    return tree(parts), sorted(set(warnings)), list(dict.fromkeys(notes))


def _clash(source: Source, names: list[str]) -> str:
    field = "git.name" if source.kind == "GitRepository" else "chart.repositoryName"
    return (f"the cluster already has a different {source.kind} {source.namespace}/{source.name} "
            f"(another URL, ref or options), and rendering it would replace that one: give {', '.join(names)} "
            f"another {field}, or match that source to reuse it")


def _reuse_note(source: Source, names: list[str], apps: list[dict]) -> str:
    note = f"reused {source.kind} {source.namespace}/{source.name} for {', '.join(names)}"
    elsewhere = sorted({app["namespace"] for app in apps if app["name"] in names} - {source.namespace})
    if elsewhere:
        note += (f" (from namespace {', '.join(elsewhere)}: sourceRef.namespace is set; clusters that forbid "
                 "cross-namespace references will refuse it)")
    return note


def _packages(spec: Spec) -> tuple[dict[str, Package], list[Problem]]:
    """The chart or overlay of every app with `package:`, and warnings about what went in."""
    from fluxgen.manifests import read_manifests  # only specs with packages load these
    from fluxgen.package import helm_chart, overlay, secrets_in

    packages, warnings, problems = {}, [], []
    read: dict[Path, list | None] = {}  # apps may package the same folder: read and report it once
    for app in spec.apps:
        if "package" not in app:
            continue
        source = spec.base / app["package"]
        if source not in read:
            try:
                read[source] = [item.obj for item in read_manifests(source, str(source))]
            except SpecError as err:
                problems += err.problems
                read[source] = None
        objects = read[source]
        if objects is None:
            continue
        files = helm_chart(app["name"], app["package"], objects) if "chart" in app else overlay(objects)
        folder = app_folder(app)
        label = app["name"] if sum(other["name"] == app["name"] for other in spec.apps) == 1 else \
            f"{app['name']} ({kind_of(app)} in {app['namespace']})"
        packages[label] = Package(folder, {path if folder == "." else f"{folder}/{path}": text
                                                 for path, text in files.items()})
        warnings += [Problem(str(source), 0, "", f"{secret} holds data and is packaged as it is; secrets do not "
                                                 "belong in Git unencrypted (encrypt it with SOPS, or use valuesFrom "
                                                 "or an external secret store)")
                     for secret in secrets_in(objects)]
    if problems:
        raise SpecError(problems)
    return packages, warnings
