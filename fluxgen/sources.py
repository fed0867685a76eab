"""Which Flux sources the apps need, how they are shared and what they are called.

Pure functions on the normalized apps of spec.py. Apps with the same kind, namespace, normalized URL,
(for Git and OCI) ref and options share one source. Names come from the URL, deterministically; a derived
name already taken by a different source gets a suffix from a hash of that source.
"""

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from fluxgen.schema import GIT_REFS, SOURCE_OPTIONS

# Path segments and host labels that say nothing about what a repository holds.
_GENERIC = {"charts", "chart", "helm", "helm-charts", "helmcharts", "stable", "repo", "repos", "repository",
            "git", "gitops", "oci", "www", "registry", "io", "com", "org", "net", "dev", "cloud", "github",
            "gitlab", "pages", "bitbucket", "azurecr", "pkg"}
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
OCI_HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def kind_of(app: dict) -> str:
    """The Flux kind that deploys the app."""
    return "HelmRelease" if "chart" in app else "Kustomization"


def in_git(app: dict) -> bool:
    """Whether the app's chart or overlay is read from its Git repository."""
    return "kustomize" in app or "path" in app["chart"]


def chart_source_kind(app: dict, default_type: str | None = None) -> str | None:
    """HelmRepository or OCIRepository for a chart from a repository, else None. An oci:// chart
    gets an OCIRepository, unless chart.source.type (or `default_type`) asks for `oci`."""
    chart = app.get("chart", {})
    repository = chart.get("repository")
    if not isinstance(repository, str):
        return None
    wanted = chart.get("source", {}).get("type", default_type) if isinstance(chart.get("source"), dict) \
        else default_type
    return "OCIRepository" if repository.startswith("oci://") and wanted != "oci" else "HelmRepository"


def normalize_url(url: str, kind: str) -> str:
    """Compare URLs as Flux users mean them: scheme and host case, a trailing slash, `.git`."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if kind == "GitRepository" and path.endswith(".git"):
        path = path[:-4]
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


@dataclass(frozen=True)
class Source:
    """A Flux source the apps need. `name` is None until plan_sources names it; `existing`: the
    cluster has it, so it is referenced, not generated; `clash`: its explicit name is taken in
    the cluster by a different source."""

    kind: str
    namespace: str
    url: str
    ref: dict
    options: dict
    name: str | None = None
    existing: bool = False
    clash: bool = False


@dataclass(frozen=True)
class ClusterSource:
    """A source the cluster already has, as kubectl listed it."""

    kind: str
    namespace: str
    name: str
    spec: dict


def source_request(app: dict) -> Source:
    """The source an app needs, before naming (name: the explicit name, or None)."""
    namespace = app["namespace"]
    if in_git(app):
        git = app["git"]
        ref = {key: git[key] for key in GIT_REFS if key in git}
        options = {key: value for key, value in git.items() if key in SOURCE_OPTIONS["GitRepository"]}
        return Source("GitRepository", namespace, git["url"], ref, options, git.get("name"))
    chart = app["chart"]
    options = chart.get("source", {})
    if chart_source_kind(app) == "OCIRepository":
        url = chart["repository"].rstrip("/") + "/" + chart["name"]
        return Source("OCIRepository", namespace, url, oci_ref(chart.get("version")), options,
                      chart.get("repositoryName"))
    return Source("HelmRepository", namespace, chart["repository"], {}, options, chart.get("repositoryName"))


def oci_ref(version: str | None) -> dict:
    """An exact chart version is an OCI tag (Helm writes `+` as `_`); anything else a semver range."""
    if version is None:
        return {"semver": "*"}  # what a HelmRelease chart without version means; OCI's own default is `latest`
    if _EXACT_VERSION.match(version):
        return {"tag": version.replace("+", "_")}
    return {"semver": version}


def identity(source: Source) -> tuple:
    """What makes two sources the same object: apps that ask for other options get another source."""
    ref = tuple(sorted(source.ref.items()))
    return (source.kind, source.namespace, normalize_url(source.url, source.kind), ref, _frozen(source.options))


def _frozen(value):
    """A hashable, order-independent form of plain data."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def plan_sources(apps: list[dict], existing: tuple[ClusterSource, ...] | list[ClusterSource] = (),
                 ) -> tuple[list[Source], list[Source]]:
    """(unique sources in order of first use, the source of each app), every one named.

    A source that matches one in `existing` (what the cluster has) is reused instead of generated,
    and the cluster's names are taken. Call name_conflicts first: explicit names are used as given.
    """
    unique: dict[tuple, Source] = {}
    keys = []
    for app in apps:
        request = source_request(app)
        key = identity(request)
        first = unique.setdefault(key, request)
        if first.name is None and request.name:
            unique[key] = replace(first, name=request.name)
        keys.append(key)
    index = _index(existing)
    in_cluster = {(e.kind, e.namespace, e.name) for e in existing}
    for key, source in unique.items():
        match = find_existing(source, index)
        if match:
            unique[key] = replace(source, name=match.name, namespace=match.namespace, existing=True)
        elif source.name:  # an explicit name the cluster gives to another source: applying would replace it
            unique[key] = replace(source, clash=(source.kind, source.namespace, source.name) in in_cluster)
    taken = {(s.kind, s.namespace, s.name) for s in unique.values() if s.name} | in_cluster
    for key, source in unique.items():
        if source.name is None:
            name = _free_name(source, derive_name(source.url, source.kind), taken)
            unique[key] = replace(source, name=name)
            taken.add((source.kind, source.namespace, name))
    return list(unique.values()), [unique[key] for key in keys]


def _index(existing: tuple[ClusterSource, ...] | list[ClusterSource]) -> dict[tuple, list[ClusterSource]]:
    """Existing sources by (kind, normalized URL), each list in a fixed order."""
    index: dict[tuple, list[ClusterSource]] = {}
    for source in existing:
        url = source.spec.get("url")
        if not isinstance(url, str):  # no URL: nothing to match
            continue
        try:
            key = (source.kind, normalize_url(url, source.kind))
        except ValueError:  # a URL nobody can read
            continue
        index.setdefault(key, []).append(source)
    for candidates in index.values():
        candidates.sort(key=lambda s: (s.namespace, s.name))
    return index


def find_existing(source: Source, index: dict[tuple, list[ClusterSource]]) -> ClusterSource | None:
    """The existing source to reuse for `source`: same URL, same ref (Git, OCI), same type (Helm),
    every option the app asked for already set; in the app's own namespace if there is one.
    With an explicit name, only the source of that name and namespace."""
    candidates = index.get((source.kind, normalize_url(source.url, source.kind)), [])
    wanted = dict(source.options)
    if source.kind == "OCIRepository":
        wanted["layerSelector"] = {"mediaType": OCI_HELM_LAYER, "operation": "copy"}
    matches = [c for c in candidates if _same_source(source, c.spec, wanted)]
    if source.name:
        matches = [c for c in matches if (c.namespace, c.name) == (source.namespace, source.name)]
    matches.sort(key=lambda c: c.namespace != source.namespace)  # stable: keeps the fixed order otherwise
    return matches[0] if matches else None


def _same_source(source: Source, spec: dict, wanted: dict) -> bool:
    if source.kind == "HelmRepository" and spec.get("type", "default") != wanted.get("type", "default"):
        return False
    if source.kind != "HelmRepository" and spec.get("ref") != source.ref:
        return False
    return all(spec.get(key) == value for key, value in wanted.items())


def name_conflicts(apps: list[dict]) -> list[tuple[int, tuple, str]]:
    """Explicit source names that clash: (app index, field path, message) for each."""
    owner: dict[tuple, tuple] = {}  # (kind, namespace, name) -> (identity, app index)
    named: dict[tuple, tuple] = {}  # identity -> (name, app index)
    conflicts = []
    for index, app in enumerate(apps):
        request = source_request(app)
        if not request.name:
            continue
        kind, name, ident = request.kind, request.name, identity(request)
        field = ("git", "name") if kind == "GitRepository" else ("chart", "repositoryName")
        key = (kind, request.namespace, name)
        if ident in named and named[ident][0] != name:
            conflicts.append((index, field, f"this {kind} is already named {named[ident][0]!r} "
                                            f"by apps[{named[ident][1]}]"))
        elif key in owner and owner[key][0] != ident:
            conflicts.append((index, field, f"{name!r} already names a different {kind} "
                                            f"(apps[{owner[key][1]}]); give this one another name"))
        named.setdefault(ident, (name, index))
        owner.setdefault(key, (ident, index))
    return conflicts


def _free_name(source: Source, name: str, taken: set) -> str:
    """`name`, or when it is taken, `name-HASH` from a hash of the source (hashed again until free)."""
    if (source.kind, source.namespace, name) not in taken:
        return name
    import hashlib  # loading OpenSSL costs start-up time; most specs never need a suffix

    key = identity(source)
    seed = repr(key if key[-1] else key[:-1])  # sources without options keep the names of fluxgen 0.1
    while True:
        seed = hashlib.sha256(seed.encode()).hexdigest()
        candidate = f"{name[:56].rstrip('-')}-{seed[:6]}"
        if (source.kind, source.namespace, candidate) not in taken:
            return candidate


def derive_name(url: str, kind: str) -> str:
    """A readable DNS label for a source URL: its last meaningful path segment, else its host."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and kind == "GitRepository" and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][:-4]
    for segment in reversed(segments):
        name = _slug(segment)
        if name and name not in _GENERIC:
            return name
    labels = [_slug(label) for label in (parts.hostname or "").split(".")]
    useful = [label for label in labels[:-1] if label and label not in _GENERIC]
    return useful[-1] if useful else (_slug(parts.hostname or "") or "source")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
