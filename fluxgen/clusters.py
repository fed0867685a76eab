"""`clusters:`: one spec for every cluster. Each cluster's apps are the spec's apps with that
cluster's changes deep-merged over them (mappings merge, lists are replaced, null removes a key,
false leaves the app out) under the spec's defaults with the cluster's defaults merged over them.

Every cluster is checked like a spec of its own; a problem a cluster's change causes is reported
at that change's line, under its own name (clusters.staging.apps.podinfo.chart.version).
"""

from dataclasses import replace
from pathlib import Path

from fluxgen import document
from fluxgen.errors import Problem, SpecError
from fluxgen.fastcheck import validated
from fluxgen.problems import Where, did_you_mean, messages
from fluxgen.schema import APP
from fluxgen.sources import Source, kind_of
from fluxgen.spec import Cluster, checked_spec, notifications

CHANGED = {"apps": {"type": "list", "schema": {"type": "dict", "schema": APP}}}  # the apps a cluster changes


def cluster_specs(doc: dict, declared: list[Source], base: Path, where: Where) -> list[Cluster]:
    """The spec of each cluster, in the order written; every problem of every cluster at once."""
    named = _by_name(doc["apps"], lambda app: app["name"])
    problems = []
    for cluster, changes in doc["clusters"].items():
        namespace = _namespace(doc, changes)
        problems += [where(("clusters", cluster, "apps", key), "no app is named so" +
                           did_you_mean(key.split("/")[-1], list(named)))
                     for key in (changes or {}).get("apps", {})
                     if not any(_closeness(key, app, namespace) for app in named.get(key.split("/")[-1], []))]
    problems += [where(("clusters", cluster, "apps", name, "name"), "an app keeps its name on every cluster")
                 for cluster, changes in doc["clusters"].items()
                 for name, change in (changes or {}).get("apps", {}).items() if isinstance(change, dict) and
                 "name" in change]
    if not doc["clusters"]:
        problems.append(where(("clusters",), "names no cluster; add one, or remove clusters: for a spec of one "
                                             "cluster"))
    paths: dict[str, str] = {}
    clusters = []
    on: dict[tuple[Problem, str], None] = {}  # each cluster's problems, in order
    layers = {app["layer"] for app in doc["apps"] if "layer" in app} | {
        change["layer"] for changes in doc["clusters"].values() for change in (changes or {}).get("apps", {}).values()
        if isinstance(change, dict) and isinstance(change.get("layer"), str)} | {s.layer for s in declared if s.layer}
    for name, changes in doc["clusters"].items():
        changes = changes or {}
        path = changes.get("path", f"clusters/{name}").removeprefix("./").removesuffix("/")
        if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
            problems.append(where(("clusters", name, "path"), "must be a folder below the repository's root, written "
                                                              "plainly (e.g. clusters/staging)"))
        elif path in paths:
            problems.append(where(("clusters", name, "path"), f"is the path of cluster {paths[path]} too; every "
                                                              "cluster needs a folder of its own"))
        paths.setdefault(path, name)
        try:
            clusters.append(Cluster(name, path, _cluster_spec(name, changes, doc, declared, base, where, layers)))
        except SpecError as err:
            on.update({(problem, name): None for problem in err.problems})
    problems += _naming_clusters(on, list(doc["clusters"]))
    if problems:
        raise SpecError(problems)
    return clusters


def _naming_clusters(on: dict[tuple[Problem, str], None], names: list[str]) -> list[Problem]:
    """Each cluster's problems once; one that not every cluster has, or that is not written under
    clusters.NAME, says which clusters have it."""
    clusters: dict[Problem, list[str]] = {}
    for (problem, cluster) in on:
        clusters.setdefault(problem, []).append(cluster)
    return [problem if sorted(where) == sorted(names) or problem.path.startswith("clusters.") else
            problem._replace(message=f"{problem.message} (on cluster {', '.join(where)})")
            for problem, where in clusters.items()]


def _cluster_spec(name: str, changes: dict, doc: dict, declared: list[Source], base: Path, where: Where,
                  layers: set[str]):
    defaults = apply_changes(doc["defaults"], changes.get("defaults", {}))
    by_key = changes.get("apps", {})
    namespace = defaults.get("namespace", "flux-system")
    naming = _by_name(by_key, lambda key: key.split("/")[-1])  # a key ends with the name of the app it changes
    keys = [_key_of(app, naming.get(app["name"], []), namespace) for app in doc["apps"]]
    twice = [(key, other) for app, key in zip(doc["apps"], keys, strict=True) for other in naming.get(app["name"], [])
             if key is not None and other != key and
             _closeness(other, app, namespace) == _closeness(key, app, namespace)]
    if twice:
        raise SpecError([where(("clusters", name, "apps", other), f"names the same app as {key}; write its change "
                                                                  "under one key") for key, other in twice[:1]])
    kept = [i for i, key in enumerate(keys) if by_key.get(key) is not False]
    absent = {app["name"] for app, key in zip(doc["apps"], keys, strict=True) if by_key.get(key) is False}
    here = _ClusterWhere(where, name, [keys[i] or doc["apps"][i]["name"] for i in kept], kept)
    own = [doc["apps"][i] for i in kept]
    changed = [index for index, i in enumerate(kept) if by_key.get(keys[i])]
    if changed:  # the changed apps are checked again, all in one go
        merged, errors = validated("changed apps", CHANGED, {"apps": [
            apply_changes(own[index], by_key[keys[kept[index]]]) for index in changed]})
        if merged is None:
            raise SpecError([here(("apps", changed[path[1]]) + path[2:], message)
                             for path, message in messages(errors, CHANGED)])
        for index, app in zip(changed, merged["apps"], strict=True):
            own[index] = app
    spec = checked_spec(defaults, own, declared, base, here, layers, absent)
    at = ("clusters", name, "notifications") if "notifications" in changes else ("notifications",)
    return replace(spec, notifications=notifications(changes.get("notifications", doc["notifications"]), defaults, at,
                                                     where))


def _closeness(key: str, app: dict, namespace: str) -> int:
    """How closely a key of clusters.NAME.apps names `app` (0: not at all, 3: kind, namespace and
    name). A key is the app's name, optionally after its namespace (NAMESPACE/NAME) and its kind
    (HelmRelease/NAME, Kustomization/NAMESPACE/NAME), for apps that share a name."""
    parts = key.split("/")
    kind = parts.pop(0) if parts[0] in ("HelmRelease", "Kustomization") else None
    if kind not in (None, kind_of(app)) or len(parts) > 2 or parts[-1] != app["name"]:
        return 0
    if len(parts) == 2 and parts[0] != app.get("namespace", namespace):
        return 0
    return 1 + (kind is not None) + (len(parts) == 2)


def _namespace(doc: dict, changes: dict | None) -> str:
    """The Flux namespace of a cluster's apps that set none."""
    return apply_changes(doc["defaults"], (changes or {}).get("defaults", {})).get("namespace", "flux-system")


def _by_name(items, name_of) -> dict[str, list]:
    """`items` grouped by the app name `name_of` says, in their order."""
    grouped: dict[str, list] = {}
    for item in items:
        grouped.setdefault(name_of(item), []).append(item)
    return grouped


def _key_of(app: dict, keys: list[str], namespace: str) -> str | None:
    """The key of the change that applies to `app` on a cluster: of the `keys` that end with its
    name, the one that names it most closely."""
    found = max(((_closeness(key, app, namespace), key) for key in keys), default=(0, None))
    return found[1] if found[0] else None


def apply_changes(app: dict, changes: dict) -> dict:
    """`changes` deep-merged over `app`: mappings merge, lists are replaced, null removes a key."""
    result = document.copied(app)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):  # a mapping the app lacks is a change to an empty one: its nulls go too
            result[key] = apply_changes(result[key] if isinstance(result.get(key), dict) else {}, value)
        else:
            result[key] = document.copied(value)
    return result


class _ClusterWhere(Where):
    """Places the problems of a cluster's merged apps where their fields were written: under
    clusters.NAME.apps.APP when the cluster changed the field, else in apps: or defaults:."""

    def __init__(self, where: Where, cluster: str, names: list[str], indices: list[int]):
        super().__init__(where.name, where.lines)
        self.cluster, self.names, self.indices = cluster, names, indices

    def written(self, path: tuple, origin: tuple | None) -> tuple[tuple, tuple | None]:
        if path[:1] == ("apps",) and len(path) > 1 and isinstance(path[1], int):
            changed = ("clusters", self.cluster, "apps", self.names[path[1]]) + path[2:]
            if changed in self.lines:
                return changed, None
            path = ("apps", self.indices[path[1]]) + path[2:]
        if origin is not None and origin[:1] == ("defaults",):
            changed = ("clusters", self.cluster) + origin
            origin = changed if changed in self.lines else origin
        return path, origin

    def app_index(self, index: int) -> int:
        return self.indices[index]
