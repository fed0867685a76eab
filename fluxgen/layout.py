"""--output-dir: the file each object goes into, for one spec or for a repository of clusters.

Without clusters and layers, each app has a folder of its own (its path in Git, or its name).
With `clusters:`, each cluster's objects go into its folder (clusters/NAME, the folder `flux
bootstrap --path` points at), one sub-folder per app. An app placed under a layer (`layer:`, a
kustomize app) goes into that layer's folder (its kustomize.path) instead, and the layer's folder
gets a kustomization.yaml listing exactly those files, so that the layer's Kustomization applies
them and nothing else (layer folders may nest, as in most Flux repositories). A cluster's folder
has none: `flux bootstrap` keeps its own files there and kustomize-controller builds every
manifest below it, so no layer or package may lie inside it. A layer's folder shared by several
clusters must hold the same files for each. Pure.
"""

from dataclasses import dataclass

from fluxgen.errors import OutputError
from fluxgen.output import FILE_NAMES, dump_all
from fluxgen.resources import CATALOGUE_FOLDER, Placed, repo_path


@dataclass(frozen=True)
class Part:
    """What one cluster (or the whole spec, without clusters) puts into the repository."""

    cluster: str | None  # its name
    root: str | None  # its folder
    objects: list[Placed]
    packages: dict[str, str]  # packaged chart and overlay files: path -> text
    layers: dict[str, str]  # kustomize app name -> the folder it applies, for apps used as a layer


LAYER_HEAD = "# Written by fluxgen: what the Kustomization {name} applies from this folder.\n"


def layer_folders(apps: list[dict], layers: frozenset[str]) -> dict[str, str]:
    """The folder of every kustomize app among `apps` that is a layer (on any cluster)."""
    return {app["name"]: _folder(app["kustomize"]["path"]) for app in apps
            if "kustomize" in app and app["name"] in layers}


def _folder(path: str) -> str:
    return repo_path(path)[2:] or "."


def tree(parts: list[Part]) -> dict[str, str]:
    """{path: text} of every file, every cluster's together; a folder two clusters share must
    hold the same objects for both."""
    files: dict[str, str] = {}
    writers: dict[str, str] = {}  # path -> the cluster that wrote it first
    shared: dict[str, tuple[str, dict[str, str]]] = {}  # layer folder -> the first cluster and its files there
    roots = [(f"cluster {part.cluster}", part.root) for part in parts if part.root]
    for part in parts:
        _check_folders(part, roots)
        objects = _objects(part)
        for folder in part.layers.values():
            inside = {path: text for path, text in objects.items() if _layer_of(path, part.layers) == folder}
            first, theirs = shared.setdefault(folder, (part.cluster or "", inside))
            if theirs != inside:
                differ = sorted(path for path in theirs.keys() | inside.keys() if theirs.get(path) != inside.get(path))
                raise OutputError(_shared(differ[0], part, first))
        clash = sorted(objects.keys() & part.packages.keys())
        if clash:
            raise OutputError(f"{clash[0]}: both a Flux object and a packaged file would be written there; give one "
                              "app another path")
        for path, text in {**objects, **part.packages}.items():
            if path in files and files[path] != text:
                raise OutputError(_shared(path, part, writers[path]))
            files.setdefault(path, text)
            writers.setdefault(path, part.cluster or "")
    return files


def _objects(part: Part) -> dict[str, str]:
    """The object files of one part, and the kustomization.yaml of each of its layer folders."""
    grouped: dict[str, list[dict]] = {}
    placed_in: dict[str, str] = {}  # path -> the layer folder it was placed in
    for placed in part.objects:
        if placed.layer is not None:
            folder = f"{part.layers[placed.layer]}/{placed.owner or CATALOGUE_FOLDER}"
        elif part.root is not None or part.layers:  # a folder per app, not the app's own path, beside layers
            folder = _join(part.root or ".", placed.owner or placed.folder)
        else:
            folder = placed.folder
        name = FILE_NAMES[placed.obj["kind"]]
        path = _join(folder, name)
        grouped.setdefault(path, []).append(placed.obj)
        deepest = _layer_of(path, part.layers)
        wanted = part.layers[placed.layer] if placed.layer is not None else None
        if deepest != wanted:
            owner = f"the layer {placed.layer} ({wanted}/)" if wanted else "no layer"
            raise OutputError(f"{path}: {placed.owner or 'a sources: entry'} belongs to {owner}, but the file would "
                              f"lie in the folder of the layer at {deepest}/, which would apply it; give one of them "
                              "another name or path")
        placed_in[path] = deepest or ""
    files = {path: dump_all(docs) for path, docs in grouped.items()}
    for name, folder in part.layers.items():
        resources = sorted(path[len(folder) + 1:] if folder != "." else path
                           for path, layer in placed_in.items() if layer == folder)
        files[_join(folder, "kustomization.yaml")] = LAYER_HEAD.format(name=name) + dump_all([{
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}])[4:]
    return files


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def _layer_of(path: str, layers: dict[str, str]) -> str | None:
    """The deepest layer folder that holds `path` (the one whose kustomization.yaml lists it)."""
    holding = [folder for folder in layers.values() if _inside(path, folder)]
    return max(holding, key=len, default=None)


def _check_folders(part: Part, roots: list[tuple[str, str]]) -> None:
    """No layer folder, packaged chart or overlay, or other cluster's folder lies inside a
    cluster's folder (whose build is every manifest below it), nor a packaged one inside a layer;
    no other Kustomization on the same repository builds a folder holding one of them; the
    `sources:` entries have their folder to themselves."""
    owners = {placed.owner for placed in part.objects if placed.layer is None}
    catalogue = any(placed.owner is None for placed in part.objects)
    if catalogue and (CATALOGUE_FOLDER in owners if part.root else
                      any(p.folder == CATALOGUE_FOLDER for p in part.objects if p.owner is not None)):
        raise OutputError(f"an app's folder is {CATALOGUE_FOLDER}/, where the sources: entries go; give the app "
                          "another name or path")
    packages = [("a packaged chart or overlay", path.rsplit("/", 1)[0] if "/" in path else ".")
                for path in part.packages]
    layers = [(f"the layer {name}", folder) for name, folder in part.layers.items()]
    pairs = [(root, inner) for root in roots for inner in layers + packages + roots if inner != root]
    pairs += [(layer, package) for layer in layers for package in packages]
    for outer in _plain_kustomizations(part):
        pairs += [(outer, inner) for inner in layers + roots if inner[1] != outer[1]]
    for (label, folder), (other_label, other) in pairs:
        if _inside(other, folder):
            raise OutputError(f"{other} ({other_label}) lies inside {folder} ({label}): Flux would apply "
                              f"its files twice, or only some of them; give one of them a folder of its own")


def _plain_kustomizations(part: Part) -> list[tuple[str, str]]:
    """The folders of the Kustomizations that are no layer but read the same repository as one
    (or as the cluster's bootstrap): Flux builds every manifest below them."""
    kustomizations = [p.obj for p in part.objects if p.obj["kind"] == "Kustomization"]
    same = [k["spec"]["sourceRef"] for k in kustomizations if k["metadata"]["name"] in part.layers]
    same += [{"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}]
    return [(f"the Kustomization {k['metadata']['name']}", k["spec"]["path"][2:] or ".") for k in kustomizations
            if k["metadata"]["name"] not in part.layers and
            {"namespace": k["metadata"]["namespace"], **k["spec"]["sourceRef"]} in
            [{"namespace": k["metadata"]["namespace"], **ref} for ref in same]]


def _inside(path: str, folder: str) -> bool:
    return folder == "." or path == folder or path.startswith(folder + "/")


def _shared(path: str, part: Part, other: str) -> str:
    layer = next((name for name, folder in part.layers.items() if path.startswith(folder + "/")), None)
    if layer is None:
        return f"{path}: clusters {other} and {part.cluster} would write it with different content"
    folder = part.layers[layer]
    head, _, last = folder.rpartition("/")
    base = head if last == other and head else folder  # apps/staging is staging's already: apps/production
    fix = ", ".join(f"{cluster}: {{apps: {{{layer}: {{kustomize: {{path: ./{base}/{cluster}}}}}}}}}"
                    for cluster in (other, part.cluster) if f"{base}/{cluster}" != folder)
    return (f"the layer {layer} applies {folder} on clusters {other} and {part.cluster}, but its objects differ "
            f"between them ({path}); give it a folder per cluster, e.g. clusters: {{{fix}}}")
