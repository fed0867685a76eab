"""What Flux applies from a GitOps repository, done the way kustomize-controller does it, so that
tests judge a tree by the objects Flux would apply and not by its file names.

Start with the Kustomization that `flux bootstrap --path ENTRY` makes (flux-system/flux-system on
the GitRepository flux-system/flux-system), then build each Kustomization's path and follow every
Kustomization on that same repository that the builds produce. A build is kustomize-controller's
(fluxcd/pkg kustomize_generator.go): a kustomization.yaml is generated where the folder has none
(every .yaml/.yml file below it; a sub-folder with its own kustomization.yaml as one resource),
then the Kustomization's targetNamespace, patches, images, components, namePrefix and nameSuffix
are written into it, and `kubectl kustomize --load-restrictor LoadRestrictionsNone` builds it;
commonMetadata is added to every object afterwards.

postBuild substitutions (`${VAR}`, from substitute and from the ConfigMaps and Secrets of
substituteFrom that the tree itself applies) are used to follow the tree, e.g. a child path
`./apps/${CLUSTER}`, but the objects are reported as written, with `${VAR}` in place: fluxgen's
specs keep them as written too.
"""

import base64
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import crds
import yaml

FLUX_GROUPS = ("source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BOOTSTRAP = ("GitRepository", "flux-system", "flux-system")


@dataclass(frozen=True)
class Applied:
    obj: dict
    by: tuple  # (namespace, name) of the Flux Kustomization that applies it


def is_flux(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] in FLUX_GROUPS


def key(obj: dict) -> tuple:
    return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]


def root_kustomization(entry: str) -> dict:
    """The Kustomization flux bootstrap (or the Flux Operator) makes for `--path ENTRY`."""
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": f"./{entry.strip('./')}", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}


def flux_applies(repo: Path, entry: str, work: Path, kubectl: str, source: tuple = BOOTSTRAP,
                 missing: list | None = None) -> dict[tuple, Applied]:
    """{(kind, namespace, name): Applied} for every Flux object Flux applies, starting at `entry`
    (the objects as written, `${VAR}` in place). With `missing` (a list), a Kustomization whose
    path does not exist applies nothing and is added to it (Flux would report it not ready)."""
    shutil.copytree(repo, work / "repo", symlinks=True)  # kustomization.yaml files are edited in this copy
    queue, done, applied = [root_kustomization(entry)], set(), {}
    everything: dict[tuple, dict] = {}  # every object applied so far, for substituteFrom
    while queue:
        ks = queue.pop(0)  # as Flux sees it: variables of its parent substituted
        ks_key = (ks["metadata"]["namespace"], ks["metadata"]["name"])
        ref = ks["spec"]["sourceRef"]
        if ks_key in done or (ref["kind"], ref.get("namespace", ks_key[0]), ref["name"]) != source:
            continue
        done.add(ks_key)
        variables = None
        if missing is not None and not (work / "repo" / ks["spec"].get("path", "./")).is_dir():
            missing.append(ks_key)
            continue
        for obj in build(work / "repo", ks, kubectl):
            obj["metadata"].setdefault("namespace", ks.get("spec", {}).get("targetNamespace", "default")) \
                if is_flux(obj) else None
            everything[(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
            if not is_flux(obj):
                continue
            applied[key(obj)] = Applied(obj, ks_key)
            if obj["kind"] == "Kustomization":
                variables = _variables(ks, everything) if variables is None else variables
                queue.append(substituted(obj, variables) if "postBuild" in ks["spec"] else obj)
    return applied


def _variables(ks: dict, everything: dict) -> dict:
    """The postBuild variables of `ks`: substitute, then its substituteFrom ConfigMaps and Secrets."""
    post = ks["spec"].get("postBuild", {})
    found: dict = {}
    for ref in post.get("substituteFrom", []):
        obj = everything.get((ref["kind"], ks["metadata"]["namespace"], ref["name"]), {})
        data = dict(obj.get("data", {}))
        if ref["kind"] == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()} | obj.get("stringData", {})
        found |= data
    return found | post.get("substitute", {})


_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-]([^}]*))?\}")


def substituted(obj: dict, variables: dict) -> dict:
    """`obj` with ${VAR} replaced as kustomize-controller does ($${VAR} is an escaped ${VAR})."""
    def replace(match) -> str:
        if match[0] == "$${":
            return "${"
        return str(variables.get(match[1], match[2] if match[2] is not None else ""))
    return yaml.load(_VARIABLE.sub(replace, yaml.safe_dump(obj, width=2**31 - 1)), Loader=GoYAML)


class GoYAML(yaml.SafeLoader):
    """Reads a plain `=` as the string Go's YAML libraries take it for (PyYAML: YAML 1.1's `value`)."""


GoYAML.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def build(repo: Path, ks: dict, kubectl: str) -> list[dict]:
    """The objects kustomize-controller builds for the Kustomization `ks` from `repo` (a copy: its
    kustomization.yaml files are edited for the build and put back afterwards)."""
    folder = repo / ks["spec"].get("path", "./")
    if not folder.is_dir():
        raise AssertionError(f"{ks['metadata']['name']}: path {ks['spec'].get('path')} does not exist")
    originals = {name: (folder / name).read_bytes() for name in KUSTOMIZATION_FILES if (folder / name).is_file()}
    try:
        return _build(folder, ks, kubectl)
    finally:
        (folder / "kustomization.yaml").unlink(missing_ok=True)
        for name, data in originals.items():
            (folder / name).write_bytes(data)


def _build(folder: Path, ks: dict, kubectl: str) -> list[dict]:
    kustomization = _kustomization(folder)
    spec = ks["spec"]
    if "targetNamespace" in spec:
        kustomization["namespace"] = spec["targetNamespace"]
    kustomization["patches"] = kustomization.get("patches", []) + spec.get("patches", [])
    for image in spec.get("images", []):
        kustomization["images"] = [i for i in kustomization.get("images", []) if i["name"] != image["name"]] + [image]
    kustomization["components"] = kustomization.get("components", []) + spec.get("components", [])
    for field in ("namePrefix", "nameSuffix"):
        if field in spec:
            kustomization[field] = spec[field]
    if not any(kustomization.get(field) for field in _PRODUCERS):
        return []  # Flux builds an empty folder, or `resources: []`, as nothing (fluxcd/pkg#718, #757)
    for name in KUSTOMIZATION_FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({k: v for k, v in kustomization.items() if v != []}))
    built = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(folder)],
                           capture_output=True, text=True, timeout=120)
    if built.returncode != 0:
        raise AssertionError(f"kustomize build of {spec.get('path')} failed: {built.stderr}")
    objects = [doc for doc in yaml.load_all(built.stdout, Loader=GoYAML) if doc]
    for obj in objects:
        for field, values in spec.get("commonMetadata", {}).items():
            obj["metadata"].setdefault(field, {}).update(values)
    return objects


_PRODUCERS = ("resources", "components", "configMapGenerator", "secretGenerator", "helmCharts", "generators")


def _kustomization(folder: Path) -> dict:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return yaml.load((folder / name).read_text(), Loader=GoYAML) or {}
    resources = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        for sub in sorted(dirs):
            if any((here / sub / name).is_file() for name in KUSTOMIZATION_FILES):
                resources.append((here / sub).relative_to(folder).as_posix())
        dirs[:] = sorted(d for d in dirs if not any((here / d / n).is_file() for n in KUSTOMIZATION_FILES))
        resources += [(here / f).relative_to(folder).as_posix() for f in sorted(files)
                      if f.endswith((".yaml", ".yml"))]
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": sorted(resources)}


# Fields whose value is Flux's own default: the same object with or without them.
def normalized(obj: dict) -> dict:
    """`obj` without what makes no difference to Flux: empty lists and mappings, `false` where the
    field has no other default (Go's zero value), the defaults the API server fills in from the
    CRD, the HelmRelease release and storage names Flux derives, and the install and upgrade
    strategy Flux uses when none is given (RemediateOnFailure)."""
    obj = crds.as_stored(obj)
    spec = obj.get("spec", {})
    if obj["kind"] == "HelmRelease":
        for action in ("install", "upgrade"):
            if (spec.get(action) or {}).get("strategy") == {"name": "RemediateOnFailure"}:
                del spec[action]["strategy"]
    obj = _drop_empty(obj)
    spec = obj.get("spec", {})
    if obj["kind"] == "HelmRelease":
        target = spec.get("targetNamespace")
        if spec.get("releaseName") == (f"{target}-{obj['metadata']['name']}" if target else obj["metadata"]["name"]):
            spec.pop("releaseName")
        if spec.get("storageNamespace") == obj["metadata"].get("namespace"):
            spec.pop("storageNamespace")
    for dep in spec.get("dependsOn", []):
        if dep.get("namespace") == obj["metadata"].get("namespace"):
            dep.pop("namespace")
    if isinstance(spec.get("path"), str):  # ./x and x are the same folder to Flux
        spec["path"] = "./" + spec["path"].removeprefix("./").strip("/") if spec["path"].strip("./") else "./"
    for ref_field in ("sourceRef", "chartRef"):
        ref = spec.get(ref_field) or spec.get("chart", {}).get("spec", {}).get(ref_field) or {}
        if ref.get("namespace") == obj["metadata"].get("namespace"):
            ref.pop("namespace")
    return obj


def _drop_empty(value):
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value
