"""Where `import` finds Flux objects: in files, or in what Flux applies from a GitOps repository.

`flux_objects` reads the Flux objects of YAML files and folders (every document of every .yaml
and .yml file; Helm chart templates and links are skipped). `flux_applies` finds them the way
Flux does:

Start where `flux bootstrap --path DIR` starts (a Kustomization of DIR on the repository's own
GitRepository), build each Kustomization's path the way kustomize-controller does, and follow
every Kustomization on that same GitRepository that the builds produce. A build: where a folder
has no kustomization.yaml, one listing every .yaml/.yml file below it (a sub-folder with its
own kustomization.yaml as one resource) is generated, as kustomize-controller does; then the
Kustomization's targetNamespace, patches, images, components, namePrefix and nameSuffix are laid
over it and `kubectl kustomize` builds it. The builds of one round run side by side.

Objects are kept as written: `${VAR}` stays in place (fluxgen's specs keep it too); the
variables of a Kustomization's postBuild are only used to follow its children's paths. The
repository is copied into a temporary folder first, as source-controller ships it (its default
exclusions and the repository's .sourceignore), without links that lead out of it; a
kustomization file that names a file outside the repository, or a remote base, stops the
import. The user's files are never touched. tests/flux_tree.py does the same walk
independently: it is the tests' oracle, so the two are kept apart on purpose.
"""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from fluxgen.errors import FluxgenError

FLUX_GROUPS = ("source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io")
NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"  # Providers and Alerts: read by check, not by import
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_PRODUCERS = ("resources", "components", "configMapGenerator", "secretGenerator", "helmCharts", "generators")
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-]([^}]*))?\}")


@dataclass(frozen=True)
class Applied:
    """A Flux object and the Kustomization that applies it."""

    obj: dict
    by: tuple[str, str]  # (namespace, name); the bootstrap Kustomization is ("flux-system", "flux-system")


def is_flux(obj) -> bool:
    return isinstance(obj, dict) and str(obj.get("apiVersion", "")).split("/")[0] in FLUX_GROUPS


@dataclass(frozen=True)
class Read:
    """An object read from a file, where it stands, and the line of each of its fields."""

    obj: dict
    file: str
    line: int
    lines: dict  # {field path inside obj: line}


def flux_objects(paths: list[str], problems: list[str]) -> list[tuple[dict, str]]:
    """(object, FILE:LINE) of every Flux object in the files and folders `paths` (see objects_in)."""
    return [(read.obj, f"{read.file}:{read.line}") for read in objects_in(paths, problems) if is_flux(read.obj)]


def objects_in(paths: list[str], problems: list[str]) -> list[Read]:
    """Every object (a mapping with a kind and a metadata.name) of the YAML files and folders
    `paths` ("-": standard input), in path order. A file that is not YAML is an error; links are
    skipped and reported in `problems`; so are the files a kustomization file among them names
    as patches (kustomize lays them over objects; they are none of their own)."""
    from fluxgen import document, files
    from fluxgen.errors import Problem, SpecError

    found: list[Read] = []
    errors: list[Problem] = []
    for given in paths:
        listed = yaml_files(given, problems, errors)
        patches = _patch_files([path for path, _ in listed if path is not None])
        for path, name in listed:
            if path is not None and path.resolve() in patches:
                continue
            try:
                raw = files.read_stdin() if path is None else files.read_bytes(path, follow_links=False)
                documents = document.load_all_lines(document.decode(raw, name), name)
            except files.Unreadable as err:
                errors.append(Problem(name, 0, "", f"cannot read: {err}"))
                continue
            except SpecError as err:
                errors += err.problems
                continue
            for start, data, lines in documents:
                is_list = isinstance(data, dict) and data.get("kind") == "List"
                for k, item in enumerate(_as_list(data.get("items")) if is_list else [data]):
                    prefix: tuple = ("items", k) if is_list else ()
                    if _is_object(item):
                        own = {field[len(prefix):]: n for field, n in lines.items() if field[:len(prefix)] == prefix}
                        found.append(Read(item, name, lines.get(prefix, start), own))
    if errors:
        raise SpecError(errors)
    return found


def _is_object(item) -> bool:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    return isinstance(item, dict) and isinstance(item.get("kind"), str) and isinstance(metadata, dict) and \
        isinstance(metadata.get("name"), str)


def _patch_files(paths: list[Path]) -> set[Path]:
    """The files the kustomization files among `paths` name as patches."""
    from fluxgen import document, files
    from fluxgen.errors import SpecError

    found = set()
    for path in paths:
        if path.name not in KUSTOMIZATION_FILES:
            continue
        try:
            data, _ = document.load(document.decode(files.read_bytes(path, follow_links=False), str(path)), str(path))
        except (files.Unreadable, SpecError):
            continue  # read (and reported) as any other file
        if not isinstance(data, dict):
            continue
        for entry in [*_as_list(data.get("patches")), *_as_list(data.get("patchesJson6902")),
                      *_as_list(data.get("patchesStrategicMerge"))]:
            relative = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(relative, str) and "\n" not in relative:
                found.add((path.parent / relative).resolve())
    return found


def yaml_files(given: str, problems: list[str], errors: list) -> list[tuple[Path | None, str]]:
    from fluxgen.errors import Problem

    if given == "-":
        return [(None, "<stdin>")]
    root = Path(given)
    if root.is_symlink() or not root.exists():
        errors.append(Problem(given, 0, "", "no such file or folder" if not root.is_symlink() else
                              "is a symbolic link; fluxgen does not follow links"))
        return []
    if root.is_file():
        return [(root, given)]
    if not root.is_dir():
        errors.append(Problem(given, 0, "", "is not a regular file or folder"))
        return []
    found: list[tuple[Path | None, str]] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink() and
                         not (d == "templates" and (here / "Chart.yaml").is_file()))  # a Helm chart's templates
        for name in sorted(names):
            path = here / name
            if name.endswith((".yaml", ".yml")):
                if path.is_symlink():
                    problems.append(f"{path}: a symbolic link; skipped (fluxgen does not follow links)")
                else:
                    found.append((path, str(path)))
    return found


def root_kustomization(entry: str, source: tuple[str, str]) -> dict:
    """The Kustomization `flux bootstrap --path ENTRY` (or the Flux Operator) makes."""
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./" + entry.strip("/").removeprefix("./"), "prune": True,
                     "sourceRef": {"kind": "GitRepository", "namespace": source[0], "name": source[1]}}}


@contextmanager
def shipped(repo: Path, problems: list[str]) -> Iterator[Path | None]:
    """A temporary copy of `repo` as source-controller ships it, to build every cluster from;
    None (and `problems`) when a kustomization file in it reads outside the repository."""
    with tempfile.TemporaryDirectory(prefix="fluxgen-import-") as work:
        copy = Path(work) / "repo"
        try:
            shutil.copytree(repo, copy, symlinks=True, ignore=_ignored(repo))
        except (shutil.Error, OSError) as err:
            raise FluxgenError(f"cannot copy the repository {repo} to build it: {_first(err)}") from err
        _unlink_outside(copy)
        outside = _reads_outside(copy)
        problems += outside
        yield None if outside else copy


def flux_applies(copy: Path, entry: str, source: tuple[str, str], kubectl: str,
                 problems: list[str]) -> list[Applied]:
    """Every Flux object Flux applies from the `shipped` copy of a repository, starting at
    `entry`, in the order found. Kustomizations on another source are kept as they are, not
    followed; those whose path does not build are added to `problems`."""
    return _walk(copy, entry, source, kubectl, problems)


# What source-controller leaves out of a Git artifact (its default .sourceignore), then the
# repository's own .sourceignore: Flux never sees these files.
_EXCLUDED = (".git", ".gitignore", ".gitmodules", ".gitattributes", ".github", ".circleci", ".travis.yml",
             ".gitlab-ci.yml", "appveyor.yml", ".drone.yml", "cloudbuild.yaml", "codeship-services.yml",
             "codeship-steps.yml", ".goreleaser.yml", ".sops.yaml", ".flux.yaml", "*.jpg", "*.jpeg", "*.gif", "*.png",
             "*.wmv", "*.flv", "*.tar.gz", "*.zip")


def _ignored(repo: Path):
    """shutil.copytree's `ignore`: the default exclusions and the root .sourceignore's patterns
    (gitignore's basic forms: NAME, *.ext, dir/, /anchored; no negation)."""
    import fnmatch

    patterns = list(_EXCLUDED)
    try:
        patterns += [line.strip() for line in (repo / ".sourceignore").read_text().splitlines()
                     if line.strip() and not line.startswith(("#", "!"))]
    except (OSError, UnicodeDecodeError):
        pass

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(repo).as_posix()
        dropped = set()
        for name in names:
            path = name if relative == "." else f"{relative}/{name}"
            for pattern in patterns:
                bare = pattern.rstrip("/")
                if bare.startswith("/") or "/" in bare:
                    hit = fnmatch.fnmatch(path, bare.lstrip("/")) or path.startswith(bare.lstrip("/") + "/")
                else:
                    hit = fnmatch.fnmatch(name, bare)
                if hit and (not pattern.endswith("/") or (Path(folder) / name).is_dir()):
                    dropped.add(name)
        return dropped
    return ignore


def _first(err: Exception) -> str:
    if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list) and err.args[0]:
        return str(err.args[0][0][-1])
    return str(err)


def _unlink_outside(copy: Path) -> None:
    """Links whose target lies outside the copy go: Flux's build reads nothing outside the repository."""
    root = copy.resolve()
    for folder, dirs, names in os.walk(copy):
        for name in dirs + names:
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                path.unlink()


_REFERENCES = ("resources", "components", "bases", "crds", "transformers", "generators", "validators",
               "patchesStrategicMerge", "configurations")


def _reads_outside(copy: Path) -> list[str]:
    """The kustomization files that name a file outside the repository, or a remote base: Flux
    builds inside the repository only, and import never fetches from the network."""
    root = copy.resolve()
    found = []
    for folder, _, names in os.walk(copy):
        for name in set(names) & set(KUSTOMIZATION_FILES):
            path = Path(folder) / name
            try:
                data = yaml.safe_load(path.read_text())
            except (yaml.YAMLError, OSError, UnicodeDecodeError):
                continue  # its build says what is wrong with it
            if not isinstance(data, dict):
                continue
            named: list = [item for field in _REFERENCES for item in data.get(field) or [] if isinstance(item, str)]
            named += [patch.get("path") for patch in data.get("patches") or []
                      if isinstance(patch, dict) and isinstance(patch.get("path"), str)]
            named += [entry.split("=")[-1] for field in ("configMapGenerator", "secretGenerator")
                      for generator in data.get(field) or [] if isinstance(generator, dict)
                      for key in ("files", "envs", "env") for entry in _as_list(generator.get(key))
                      if isinstance(entry, str)]
            shown = path.relative_to(copy).as_posix()
            for item in named:
                if "://" in item or item.startswith(("github.com/", "git@", "gitlab.com/", "bitbucket.org/")):
                    found.append(f"{shown}: {item} is a remote base; import builds the repository only (Flux "
                                 "reaches it only when the controller may use the network)")
                elif not (Path(folder) / item).resolve().is_relative_to(root):
                    found.append(f"{shown}: {item} lies outside the repository, where Flux cannot read it")
    return found


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _walk(repo: Path, entry: str, source: tuple[str, str], kubectl: str, problems: list[str]) -> list[Applied]:
    pending, done, applied = [root_kustomization(entry, source)], set(), []
    everything: dict[tuple, dict] = {}  # every object applied so far, for substituteFrom
    builds = Path(tempfile.mkdtemp(prefix="builds-", dir=repo.parent))  # this walk's own: clusters share the copy
    while pending:
        todo = []
        for ks in pending:
            at = (ks["metadata"]["namespace"], ks["metadata"]["name"])
            ref = ks["spec"].get("sourceRef", {})
            if at in done or (ref.get("kind"), ref.get("namespace", at[0]), ref.get("name")) != ("GitRepository",
                                                                                                   *source):
                continue  # another source's Kustomization is kept as it is, not followed
            done.add(at)
            todo.append(ks)
        for ks in todo:
            folder = _folder_of(repo, ks)
            if folder is not None:
                _generate(folder)
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
            results = list(pool.map(lambda job: _build(repo, builds / str(len(done)) / str(job[0]), job[1], kubectl),
                                    enumerate(todo)))
        pending = []
        for ks, (objects, problem) in zip(todo, results, strict=True):
            at = (ks["metadata"]["namespace"], ks["metadata"]["name"])
            if problem:
                problems.append(f"Kustomization {at[0]}/{at[1]}: {problem}")
                continue
            variables = None
            for obj in objects:
                metadata = obj.setdefault("metadata", {})
                metadata.setdefault("namespace", ks["spec"].get("targetNamespace", "default"))
                everything[(obj.get("kind"), metadata.get("namespace"), metadata.get("name"))] = obj
                if not is_flux(obj):
                    continue
                applied.append(Applied(obj, at))
                if obj.get("kind") == "Kustomization" and isinstance(obj.get("spec"), dict):
                    if "postBuild" in ks["spec"]:
                        variables = _variables(ks, everything) if variables is None else variables
                        obj = substituted(obj, variables)
                    pending.append(obj)
    return applied


def _variables(ks: dict, everything: dict) -> dict:
    """The postBuild variables of `ks`: its substituteFrom ConfigMaps and Secrets, then substitute."""
    import base64

    post = ks["spec"].get("postBuild") or {}
    found: dict = {}
    for ref in post.get("substituteFrom") or []:
        obj = everything.get((ref.get("kind"), ks["metadata"]["namespace"], ref.get("name")), {})
        data = dict(obj.get("data") or {})
        if ref.get("kind") == "Secret":
            import binascii

            try:
                data = {k: base64.b64decode(str(v)).decode(errors="replace") for k, v in data.items()}
            except binascii.Error:
                data = {}  # not base64: Flux would refuse the Secret; its variables stay unknown
            data |= obj.get("stringData") or {}
        found |= data
    return found | (post.get("substitute") or {})


def substituted(value, variables: dict):
    """`value` with ${VAR} replaced as kustomize-controller does ($${VAR} is an escaped ${VAR})."""
    if isinstance(value, dict):
        return {key: substituted(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substituted(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match) -> str:
        if match[0] == "$${":
            return "${"
        return str(variables.get(match[1], match[2] if match[2] is not None else ""))
    return _VARIABLE.sub(replace, value)


def _lay_over(kustomization: dict, spec: dict) -> None:
    """The Kustomization's targetNamespace, patches and images over a kustomization.yaml."""
    if spec.get("targetNamespace"):
        kustomization["namespace"] = spec["targetNamespace"]
    if spec.get("patches"):
        kustomization["patches"] = _as_list(kustomization.get("patches")) + spec["patches"]
    for image in spec.get("images") or []:
        kustomization["images"] = [i for i in _as_list(kustomization.get("images"))
                                   if not isinstance(i, dict) or i.get("name") != image.get("name")] + [image]


def _folder_of(repo: Path, ks: dict) -> Path | None:
    """The folder a Kustomization builds: its path under the repository's root (an absolute path
    too, as Flux joins it), None where that is no folder inside the repository."""
    path = str(ks["spec"].get("path") or "./")
    folder = (repo / path.lstrip("/")).resolve()
    if not folder.is_relative_to(repo.resolve()) or not folder.is_dir():
        return None
    return folder


def _generate(folder: Path) -> None:
    """kustomize-controller's kustomization.yaml for a folder without one: every manifest below it."""
    if not folder.is_dir() or any((folder / name).is_file() for name in KUSTOMIZATION_FILES):
        return
    resources = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        own = {d for d in dirs if any((here / d / name).is_file() for name in KUSTOMIZATION_FILES)}
        resources += [(here / d).relative_to(folder).as_posix() for d in sorted(own)]
        dirs[:] = sorted(set(dirs) - own)
        resources += [(here / f).relative_to(folder).as_posix() for f in sorted(files)
                      if f.endswith((".yaml", ".yml")) and not (here / f).is_symlink()]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": sorted(resources)}))


def _build(repo: Path, wrapper: Path, ks: dict, kubectl: str) -> tuple[list[dict], str | None]:
    """(the objects, None) or ([], why not)."""
    from fluxgen import document
    from fluxgen.errors import SpecError

    spec = ks["spec"]
    folder = _folder_of(repo, ks)
    if folder is None:
        return [], f"its path {spec.get('path')} is not a folder of the repository"
    inner = next((folder / name for name in KUSTOMIZATION_FILES if (folder / name).is_file()), None)
    try:
        written = yaml.safe_load(inner.read_text()) if inner else {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        return [], f"cannot read {inner.relative_to(repo) if inner else folder}: {err}"
    if not isinstance(written, dict) or not any(written.get(field) for field in _PRODUCERS):
        return [], None  # Flux builds an empty folder, or `resources: []`, as nothing (fluxcd/pkg#718, #757)
    escaping = [c for c in _as_list(spec.get("components")) if not (folder / str(c)).resolve().is_relative_to(
        repo.resolve())]
    if escaping:
        return [], f"its component {escaping[0]} lies outside the repository, where Flux cannot read it"
    wrapper.mkdir(parents=True)
    if any(spec.get(field) for field in ("components", "namePrefix", "nameSuffix")):
        # these merge into the folder's own kustomization.yaml (a prefix replaces its prefix, components
        # join its components): build a private copy, edited as kustomize-controller edits it
        shutil.copytree(repo, wrapper / "repo", symlinks=True, copy_function=os.link)  # links: nothing is edited
        inner_copy = wrapper / "repo" / (inner or folder / "kustomization.yaml").relative_to(repo.resolve())
        for name in KUSTOMIZATION_FILES:
            (inner_copy.parent / name).unlink(missing_ok=True)
        merged = dict(written)
        merged["components"] = _as_list(written.get("components")) + _as_list(spec.get("components"))
        for field in ("namePrefix", "nameSuffix"):
            if spec.get(field):
                merged[field] = spec[field]
        _lay_over(merged, spec)
        inner_copy.parent.joinpath("kustomization.yaml").write_text(yaml.safe_dump(merged))
        wrapper = inner_copy.parent
    else:
        kustomization: dict = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                               "resources": [os.path.relpath(folder, wrapper)]}
        _lay_over(kustomization, spec)
        (wrapper / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    try:
        built = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(wrapper)],
                               capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise FluxgenError(f"cannot run {kubectl} kustomize: {err}") from err
    if built.returncode != 0:
        message = built.stderr.strip().replace(str(wrapper), "<build>").replace(str(repo) + "/", "")
        message = message.replace(str(repo.parent) + "/", "")
        return [], f"kustomize build of {spec.get('path')} failed: {message}"
    try:
        objects = [data for _, data in document.load_all(built.stdout, "<kustomize build>") if isinstance(data, dict)]
    except SpecError as err:
        return [], f"cannot read the kustomize build of {spec.get('path')}: {err.problems[0].message}"
    for obj in objects:
        for field, values in (spec.get("commonMetadata") or {}).items():
            if isinstance(values, dict):
                obj.setdefault("metadata", {}).setdefault(field, {}).update(values)
    return objects, None
