"""import: Flux objects (of one or several clusters) -> the fluxgen.yaml that renders them. Pure.

Each source becomes a `sources:` entry (the bootstrap GitRepository, and any source referenced but
not found, an `existing: true` one); each HelmRelease and Kustomization an app with Flux's own
field names; the Kustomization that applies an object becomes its `layer`. With several
clusters, an app is written as the first cluster has it and every other cluster states its
differences (`clusters.NAME.apps.APP`, `false` where it is absent). fluxgen's own defaults that
would change an object (a targetNamespace, storageNamespace, Namespace object and RetryOnFailure
strategy on every release, the release name, wait on a Kustomization others depend on) are set
back to what Flux had. A setting every app of a kind shares goes into
`defaults`. A layer whose folder several clusters share, but whose objects differ between them,
gets a folder per cluster. What fluxgen cannot express is reported, never dropped silently;
`leave_out` takes out what keeps the spec from validating, and reports that too.
"""

import copy
import re
from collections import Counter
from dataclasses import dataclass

from fluxgen.practices import WAITS, waited_on
from fluxgen.resources import retries_on_failure
from fluxgen.schema import APP, SOURCE_ENTRIES

SOURCE_KINDS = ("HelmRepository", "OCIRepository", "GitRepository")
APP_KINDS = ("HelmRelease", "Kustomization")
BOOTSTRAP = ("flux-system", "flux-system")  # the namespace and name flux bootstrap gives its objects
_APPENDS = re.compile(r"op:\s*add\s*\n\s*path:\s*\S*/-\s*(\n|$)")  # a JSON patch that appends to a list
_CHART_SPEC = ("interval", "reconcileStrategy", "valuesFiles", "ignoreMissingValuesFiles", "verify")
_NOT_OPTIONS = ("chart", "chartRef", "sourceRef", "path", "prune", "dependsOn")


@dataclass(frozen=True)
class Found:
    """A Flux object as read, where it was read, and the Kustomization that applies it."""

    obj: dict
    where: str  # FILE:LINE, or the Kustomization whose build holds it
    by: tuple[str, str] | None = None  # (namespace, name); BOOTSTRAP for the cluster's own entry


@dataclass(frozen=True)
class Imported:
    doc: dict  # the spec as data: sources, defaults, apps, clusters
    notes: list[str]  # what could not be expressed as it was, or what import chose
    counts: dict[str, int]  # Flux objects read per cluster ("" without clusters)


def key(obj: dict) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return obj["kind"], metadata.get("namespace") or "default", metadata["name"]


def import_spec(clusters: dict[str, list[Found]], paths: dict[str, str]) -> Imported:
    """The spec of the objects of each cluster ("" for objects read without clusters); `paths`:
    each cluster's bootstrap path."""
    notes: list[str] = []
    entries: dict[tuple, dict] = {}
    seen: dict[tuple, list[str]] = {}  # source -> the clusters that have it
    per_cluster: dict[str, dict[tuple, dict]] = {}
    counts = {}
    for cluster, found in clusters.items():
        objects = _without_common_metadata(_unique(found, notes))
        counts[cluster] = len(objects)
        objects = [item for item in objects if _readable(item, notes)]
        for item in objects:
            if item.obj["kind"] in SOURCE_KINDS:
                entry = _entry(item, notes)
                known = entries.setdefault(key(item.obj), entry)
                seen.setdefault(key(item.obj), []).append(cluster)
                if known != entry:
                    notes.append(f"{_label(item.obj)} differs between clusters; sources: holds one version, the "
                                 f"first cluster's ({item.where})")
        waited = waited_on([item.obj for item in objects])
        per_cluster[cluster] = {key(item.obj): _app(item, notes, key(item.obj) in waited) for item in objects
                                if item.obj["kind"] in APP_KINDS and not _is_bootstrap(item, paths.get(cluster))}
        notes += [f"Kustomization {k[1]}/{k[2]}{' on cluster ' + cluster if cluster else ''}: its patches add to "
                  "lists (op: add, path .../-) of the objects it applies, which are written as applied, so Flux "
                  "applying the written tree adds to them again" for k, app in per_cluster[cluster].items()
                  if k[0] == "Kustomization" and any(_APPENDS.search(str(patch.get("patch", "")))
                                                     for patch in app.get("patches") or [] if isinstance(patch, dict))
                  and any(other.get("layer") == k[2] for other in per_cluster[cluster].values())]
        notes += [f"{_label(item.obj)} ({item.where}): fluxgen does not write {item.obj['kind']} objects; left out"
                  for item in objects if item.obj["kind"] not in (*SOURCE_KINDS, *APP_KINDS)]
    for source, on in seen.items():
        layer = entries[source].get("layer")
        extra = [cluster for cluster, own in per_cluster.items() if cluster not in on and not entries[source].get(
            "existing") and (layer is None or any(k[0] == "Kustomization" and k[2] == layer for k in own))]
        if extra:
            notes.append(f"{entries[source]['kind']} {source[1]}/{source[2]} is not on cluster(s) {', '.join(extra)}, "
                         "but a sources: entry is on every cluster where its layer is: those get it too")
    for app in (app for own in per_cluster.values() for app in own.values()):
        for ref in _references(app):
            entries.setdefault(ref, {"kind": ref[0], "name": ref[2], "namespace": ref[1], "existing": True})
    if len(per_cluster) > 1:
        _split_shared_layers(per_cluster, notes)
    apps, changes = _clusters(per_cluster, notes)
    unique = Counter((namespace, name) for _, namespace, name in entries)
    defaults = _defaults(apps, unique)
    for app in apps:
        _short_references(app, unique, entries, app.get("namespace", defaults.get("namespace", "flux-system")))
    for change in (change for cluster in (changes or {}).values() for change in cluster.values() if change):
        _short_references(change, unique, entries, None)
    doc: dict = {"sources": sorted(entries.values(), key=_entry_order), "defaults": defaults, "apps": apps}
    if not doc["sources"]:
        del doc["sources"]
    if changes is not None:
        doc["clusters"] = {name: {**({"path": paths[name]} if paths.get(name) else {}),
                                  **({"apps": changes[name]} if changes[name] else {})} for name in per_cluster}
    return Imported(doc, notes, counts)


def _unique(found: list[Found], notes: list[str]) -> list[Found]:
    """Each object once: the first one read (Flux would refuse the second, or apply it twice)."""
    seen: dict[tuple, Found] = {}
    for item in found:
        first = seen.setdefault(key(item.obj), item)
        if first is not item:
            same = "the same object" if first.obj == item.obj else "another version of it"
            notes.append(f"{_label(item.obj)} is also applied by {item.where} ({same}); kept the one of {first.where}")
    return list(seen.values())


def _without_common_metadata(objects: list[Found]) -> list[Found]:
    """The objects without the labels and annotations that the commonMetadata of the
    Kustomization applying them adds (fluxgen writes that Kustomization's commonMetadata)."""
    common = {(item.obj["metadata"].get("namespace"), item.obj["metadata"]["name"]):
              (item.obj.get("spec") or {}).get("commonMetadata") or {}
              for item in objects if item.obj["kind"] == "Kustomization"}
    result = []
    for item in objects:
        added = common.get(item.by) if item.by else None
        metadata = item.obj.get("metadata") or {}
        if added and isinstance(added, dict):
            metadata = dict(metadata)
            for field in ("labels", "annotations"):
                own = {k: v for k, v in (metadata.get(field) or {}).items() if (added.get(field) or {}).get(k) != v}
                metadata.pop(field, None)
                metadata |= {field: own} if own else {}
            item = Found({**item.obj, "metadata": metadata}, item.where, item.by)
        result.append(item)
    return result


def _readable(item: Found, notes: list[str]) -> bool:
    """Whether the object has the shape import reads (a mapping spec, references as mappings);
    one that has not is reported and left out."""
    spec = item.obj.get("spec", {})
    chart = spec.get("chart") if isinstance(spec, dict) and item.obj.get("kind") == "HelmRelease" else None
    chart_spec = chart.get("spec") if isinstance(chart, dict) else None
    refs = [spec.get("sourceRef"), spec.get("chartRef"), chart_spec.get("sourceRef") if isinstance(chart_spec, dict)
            else None] if isinstance(spec, dict) and item.obj.get("kind") in APP_KINDS else []
    good = isinstance(item.obj.get("kind"), str) and isinstance(spec, dict) and \
        all(ref is None or (isinstance(ref, dict) and isinstance(ref.get("name"), str)) for ref in refs) and \
        (chart is None or (isinstance(chart, dict) and isinstance(chart.get("spec", {}), dict))) and \
        all(isinstance(dep, dict) and isinstance(dep.get("name"), str) for dep in spec.get("dependsOn") or []
            if isinstance(spec, dict))
    if not good:
        notes.append(f"{item.obj.get('kind')} {item.obj['metadata'].get('name')} ({item.where}) is not a valid Flux "
                     "object (its spec, references or dependsOn have another shape); left out")
    return good


def _is_bootstrap(item: Found, path: str | None) -> bool:
    """The Kustomization flux bootstrap made for the cluster's own folder (it is not fluxgen's)."""
    metadata = item.obj["metadata"]
    own = str(item.obj.get("spec", {}).get("path", "")).removeprefix("./").strip("/")
    return (metadata.get("namespace"), metadata["name"]) == BOOTSTRAP and path is not None and \
        own == path.removeprefix("./").strip("/")


def _label(obj: dict) -> str:
    kind, namespace, name = key(obj)
    return f"{kind} {namespace}/{name}"


def _entry(item: Found, notes: list[str]) -> dict:
    """A `sources:` entry with the spec as written; the bootstrap GitRepository is existing."""
    obj = item.obj
    kind, namespace, name = key(obj)
    entry: dict = {"kind": kind, "name": name, "namespace": namespace}
    if kind == "GitRepository" and (namespace, name) == BOOTSTRAP:
        return entry | {"existing": True}
    spec = dict(obj.get("spec") or {})
    fields = SOURCE_ENTRIES[kind]
    for field, value in spec.items():
        if field in fields and field not in ("kind", "name", "namespace", "existing", "layer"):
            entry[field] = value
        else:
            notes.append(f"{_label(obj)} ({item.where}): spec.{field} cannot be written in fluxgen.yaml; left out")
    if kind == "GitRepository" and "ref" not in spec:
        entry["ref"] = {"branch": "master"}
        notes.append(f"{_label(obj)} ({item.where}) has no ref, so Flux reads branch master; written as ref: "
                     "{branch: master}")
    _metadata_note(item, notes)
    if item.by is not None and item.by != BOOTSTRAP:
        entry["layer"] = item.by[1]
    return entry


def _metadata_note(item: Found, notes: list[str]) -> None:
    extra = sorted(set(item.obj.get("metadata") or {}) - {"name", "namespace"})
    if extra:
        notes.append(f"{_label(item.obj)} ({item.where}): metadata.{', metadata.'.join(extra)} cannot be written in "
                     "fluxgen.yaml; left out")


def _app(item: Found, notes: list[str], waited: bool = False) -> dict:
    obj = item.obj
    kind, namespace, name = key(obj)
    spec = copy.deepcopy(obj.get("spec") or {})
    if waited and not set(WAITS) & set(spec):
        spec["wait"] = False  # fluxgen's default for a Kustomization others depend on is to wait
    app: dict = {"name": name, "namespace": namespace}
    if item.by is not None and item.by != BOOTSTRAP:
        app["layer"] = item.by[1]
    if kind == "HelmRelease":
        _release(app, spec, item, notes)
    else:
        app["kustomize"] = {"path": spec.get("path") or "./"}
        if spec.get("prune") is False:
            app["kustomize"]["prune"] = False
        if "sourceRef" in spec:
            app["sourceRef"] = _ref(spec["sourceRef"], namespace)
    if spec.get("dependsOn"):
        app["dependsOn"] = [{k: v for k, v in dep.items() if k != "namespace" or v != namespace}
                            for dep in spec["dependsOn"]]
    for field, value in spec.items():
        if field in _NOT_OPTIONS:
            continue
        if field in APP and field not in ("name", "namespace", "layer", "kustomize", "git", "package", "valuesFiles"):
            app[field] = value
        else:
            notes.append(f"{_label(obj)} ({item.where}): spec.{field} cannot be written in fluxgen.yaml; left out")
    _metadata_note(item, notes)
    return app


def _release(app: dict, spec: dict, item: Found, notes: list[str]) -> None:
    """The chart fields of a HelmRelease, and fluxgen's defaults set back to Flux's."""
    namespace = app["namespace"]
    if "chartRef" in spec:
        app["chartRef"] = _ref(spec["chartRef"], namespace)
    elif "chart" in spec:
        chart_spec = (spec["chart"] or {}).get("spec") or {}
        source = chart_spec.get("sourceRef") or {}
        from_path = source.get("kind") in ("GitRepository", "Bucket")
        chart: dict = {"path" if from_path else "name": chart_spec.get("chart")}
        for field in ("version", *_CHART_SPEC):
            if field in chart_spec:
                chart[field] = chart_spec[field]
        if from_path and "reconcileStrategy" not in chart_spec:
            chart["reconcileStrategy"] = "ChartVersion"  # Flux's default; fluxgen's for Git charts is Revision
        chart["sourceRef"] = _ref(source, namespace)
        if (spec["chart"] or {}).get("metadata"):
            chart["metadata"] = spec["chart"]["metadata"]
        app["chart"] = chart
        extra = sorted(set(chart_spec) - {"chart", "sourceRef", "version", *_CHART_SPEC})
        if extra:
            notes.append(f"{_label(item.obj)} ({item.where}): spec.chart.spec.{', '.join(extra)} cannot be written in "
                         "fluxgen.yaml; left out")
    target = spec.get("targetNamespace")
    if "releaseName" not in spec and target:
        spec["releaseName"] = f"{target}-{app['name']}"  # what Flux calls the release (fluxgen: the app's name)
    if target and target != namespace and "storageNamespace" not in spec:
        spec["storageNamespace"] = namespace  # Flux's default (fluxgen's: the target namespace)
    if target:
        app["namespaceObject"] = False  # the repository's own Namespace objects (if any) stay where they are
    for action in ("install", "upgrade"):  # fluxgen's default strategy is RetryOnFailure; Flux's is this
        current = spec.get(action) or {}
        if isinstance(current, dict) and retries_on_failure(current):
            spec[action] = {**current, "strategy": {"name": "RemediateOnFailure"}}


def _ref(ref: dict, namespace: str) -> dict:
    """Flux's reference, with the namespace always written (made short later)."""
    return {"kind": ref.get("kind"), "name": ref.get("name"), "namespace": ref.get("namespace") or namespace}


def _references(app: dict) -> list[tuple[str, str, str]]:
    refs = [app.get("sourceRef"), app.get("chartRef"), app.get("chart", {}).get("sourceRef")]
    return [(ref["kind"], ref["namespace"], ref["name"]) for ref in refs
            if isinstance(ref, dict) and ref["kind"] in SOURCE_KINDS]


def _short_references(app: dict, unique: Counter, entries: dict, namespace: str | None) -> None:
    """NAME where the entry is the only source of that name in the app's namespace, NAMESPACE/NAME
    where that is unique, else Flux's mapping (also for sources that cannot be entries)."""
    for holder, field in ((app, "sourceRef"), (app, "chartRef"), (app.get("chart") or {}, "sourceRef")):
        ref = holder.get(field)
        if not isinstance(ref, dict):
            continue
        if (ref["kind"], ref["namespace"], ref["name"]) in entries:
            holder[field] = _as_written(ref, unique, namespace)
        elif ref["namespace"] == namespace:
            del ref["namespace"]


def _as_written(ref, unique: Counter, namespace: str | None = None):
    """A reference as the spec writes it: NAME or NAMESPACE/NAME where no other source of the spec
    has that namespace and name, else the mapping."""
    if not isinstance(ref, dict) or unique[(ref["namespace"], ref["name"])] > 1:
        return ref
    return ref["name"] if ref["namespace"] == namespace else f"{ref['namespace']}/{ref['name']}"


def _clusters(per_cluster: dict[str, dict[tuple, dict]], notes: list[str]) -> tuple[list[dict], dict | None]:
    """The apps as the first cluster holding each has them, and each cluster's changes (None
    without clusters)."""
    order: dict[tuple, dict] = {}
    for own in per_cluster.values():
        for app_key, app in own.items():
            order.setdefault(app_key, app)
    apps = [copy.deepcopy(app) for app in order.values()]
    if list(per_cluster) == [""]:
        return apps, None
    names = Counter(app["name"] for app in apps)
    kinds = Counter((kind, name) for kind, _, name in order)
    changes: dict[str, dict] = {}
    for cluster, own in per_cluster.items():
        changes[cluster] = {}
        for app_key, base in order.items():
            mine = own.get(app_key)
            if mine == base:
                continue
            kind, namespace, name = app_key
            change_key = name if names[name] == 1 else f"{kind}/{name}" if kinds[(kind, name)] == 1 else \
                f"{kind}/{namespace}/{name}"
            changes[cluster][change_key] = False if mine is None else _difference(base, mine)
            if mine is not None and _has_null(changes[cluster][change_key], mine):
                notes.append(f"cluster {cluster}: {kind} {namespace}/{name} sets a value to null, which a clusters: "
                             "change cannot say (null removes a key there); the key is removed instead")
    return apps, changes


def _split_shared_layers(per_cluster: dict[str, dict[tuple, dict]], notes: list[str]) -> None:
    """A layer whose folder several clusters share but whose objects differ between them (each
    cluster's Kustomization patches a shared base differently) gets a folder per cluster,
    PATH/CLUSTER: one folder cannot hold two versions of an object."""
    import json

    layers = {app_key for own in per_cluster.values() for app_key, app in own.items()
              if app_key[0] == "Kustomization" and any(other.get("layer") == app_key[2] for other in own.values())}
    for layer in sorted(layers):
        by_folder: dict[str, dict[str, str]] = {}
        for cluster, own in per_cluster.items():
            if layer in own:
                content = json.dumps(sorted((str(k), v) for k, v in own.items() if v.get("layer") == layer[2]),
                                     sort_keys=True, default=str)
                by_folder.setdefault(own[layer]["kustomize"]["path"], {})[cluster] = content
        for folder, contents in by_folder.items():
            if len(set(contents.values())) < 2:
                continue
            for cluster in contents:
                per_cluster[cluster][layer]["kustomize"]["path"] = f"{folder.rstrip('/')}/{cluster}"
            notes.append(f"Kustomization {layer[1]}/{layer[2]}: clusters {', '.join(contents)} share its folder "
                         f"{folder} but apply different objects from it (patched per cluster); written with a "
                         f"folder per cluster, {folder.rstrip('/')}/CLUSTER, so its path differs from the original")


def _has_null(change, mine) -> bool:
    """Whether a null in `change` stands for a null `mine` holds (not for a key it lacks)."""
    if not isinstance(change, dict) or not isinstance(mine, dict):
        return False
    return any((value is None and field in mine) or _has_null(value, mine.get(field))
               for field, value in change.items())


def _difference(base: dict, mine: dict) -> dict:
    """What merged over `base` (mappings merge, lists are replaced, null removes) gives `mine`."""
    change: dict = {}
    for field in mine:
        if field not in base or base[field] != mine[field]:
            both = isinstance(base.get(field), dict) and isinstance(mine[field], dict) and \
                field not in ("sourceRef", "chartRef")  # a reference changes whole
            change[field] = _difference(base[field], mine[field]) if both else mine[field]
    for field in base:
        if field not in mine:
            change[field] = None
    return change


def _defaults(apps: list[dict], unique: Counter) -> dict:
    """Settings most apps share, where lifting them changes no app: a field goes into `defaults`
    with its most common value when every app it would apply to sets it (lists: an app without
    it gets `[]`), and every app with another mapping there keeps it whole under the merge. The
    source most Kustomizations read is written as a reference."""
    from fluxgen.schema import ONLY_FOR
    from fluxgen.sources import kind_of

    defaults: dict = {}
    fields = dict.fromkeys(field for app in apps for field in app if field not in _NOT_LIFTED)
    for field in fields:
        applies = [app for app in apps if ONLY_FOR.get(field, kind_of(app)) == kind_of(app)]
        written = [_as_written(app[field], unique) if field == "sourceRef" else app[field]
                   for app in applies if field in app]
        if not written:
            continue
        best_text, count = Counter(_text_of(value) for value in written).most_common(1)[0]
        best = next(value for value in written if _text_of(value) == best_text)
        lacking = len(applies) - len(written)
        if count < 2 or (lacking and not isinstance(best, list)):
            continue
        if isinstance(best, dict) and any(isinstance(v, dict) and _merged(best, v) != v or
                                          not isinstance(v, dict) for v in written if _text_of(v) != best_text):
            continue
        defaults[field] = best
        for app in applies:
            if field not in app:
                app[field] = []
            elif _text_of(_as_written(app[field], unique) if field == "sourceRef" else app[field]) == best_text:
                del app[field]
    defaults["targetNamespace"] = None  # as Flux: no target namespace unless the object has one
    return defaults


_NOT_LIFTED = ("name", "layer", "kustomize", "chart", "chartRef", "values", "valuesFrom", "dependsOn", "releaseName",
               "storageNamespace", "targetNamespace")


def _text_of(value) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _merged(base: dict, over: dict) -> dict:
    result = copy.deepcopy(base)
    for field, value in over.items():
        result[field] = _merged(result[field], value) if isinstance(value, dict) and isinstance(
            result.get(field), dict) else value
    return result


def _entry_order(entry: dict) -> tuple:
    return not entry.get("existing", False), SOURCE_KINDS.index(entry["kind"]), entry["namespace"], entry["name"]


def leave_out(doc: dict, problems: list[tuple[str, str]], notes: list[str]) -> bool:
    """Take out of `doc` what each problem of the spec names (an app's layer, an app, a source
    entry, a cluster's change), reporting each in `notes`; False when a problem names none."""
    import re

    apps, entries, changes = set(), set(), set()
    for path, message in problems:
        app = re.match(r"apps\[(\d+)\](\.layer)?", path)
        entry = re.match(r"sources\[(\d+)\](\.layer)?", path)
        change = re.match(r"clusters\.([^.]+)\.apps\.([^.]+)", path)
        if app and app[2] and "layer" in doc["apps"][int(app[1])]:
            gone = doc["apps"][int(app[1])].pop("layer")
            notes.append(f"{doc['apps'][int(app[1])]['name']}: placed under no layer instead of {gone} ({message})")
        elif app:
            apps.add(int(app[1]))
            notes.append(f"{doc['apps'][int(app[1])]['name']}: left out, fluxgen cannot write it ({message})")
        elif entry and entry[2] and "layer" in doc["sources"][int(entry[1])]:
            gone = doc["sources"][int(entry[1])].pop("layer")
            notes.append(f"source {doc['sources'][int(entry[1])]['name']}: placed under no layer instead of {gone} "
                         f"({message})")
        elif entry:
            entries.add(int(entry[1]))
            notes.append(f"source {doc['sources'][int(entry[1])]['name']}: left out, fluxgen cannot write it "
                         f"({message})")
        elif change:
            changes.add((change[1], change[2]))
            notes.append(f"cluster {change[1]}: the change of {change[2]} left out ({message})")
        else:
            return False
    names = {doc["apps"][index]["name"] for index in apps}
    doc["apps"] = [app for index, app in enumerate(doc["apps"]) if index not in apps]
    if "sources" in doc:
        doc["sources"] = [entry for index, entry in enumerate(doc["sources"]) if index not in entries]
    for cluster, own in (doc.get("clusters") or {}).items():
        for key in list((own or {}).get("apps", {})):
            if (cluster, key) in changes or key.rsplit("/", 1)[-1] in names and not any(
                    app["name"] == key.rsplit("/", 1)[-1] for app in doc["apps"]):
                del own["apps"][key]
    return True
