"""Which Flux sources the apps need, how they are shared and what they are called.

Pure functions on the merged apps of spec.py. An app's source is, in this order: the one its
reference names (sourceRef, chart.sourceRef, chartRef: a `sources:` entry, or an object managed
elsewhere, taken as is); a `sources:` entry that its inline URL matches; one the cluster already
has (--reuse-existing); or one derived from its URL. source_plan.py plans and names them.
"""

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from fluxgen.schema import GIT_REFS, SOURCE_OPTIONS

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
OCI_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
OCI_HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_LAYER_SELECTOR = {"mediaType": OCI_HELM_LAYER, "operation": "copy"}


@dataclass(frozen=True)
class Source:
    """A Flux source an app reads. `name` is None until plan_sources names it. `existing`: it is
    referenced, never generated (made by flux bootstrap, found in the cluster, or managed
    elsewhere); `declared`: a `sources:` entry; `reused`: found in the cluster; `clash`: its
    explicit name is taken in the cluster by a different source."""

    kind: str
    namespace: str
    url: str | None
    ref: dict
    options: dict
    name: str | None = None
    existing: bool = False
    declared: bool = False
    reused: bool = False
    clash: bool = False
    layer: str | None = field(default=None, compare=False)  # a `sources:` entry's layer: where it is written
    entry: int | None = field(default=None, compare=False)  # a `sources:` entry's place in that list

    def spec(self) -> dict:
        """The spec fields that say what the source is: url, ref and every option."""
        return {**({"url": self.url} if self.url else {}), **({"ref": self.ref} if self.ref else {}), **self.options}


class ClusterSource(NamedTuple):
    """A source that already exists (in the cluster, or declared in `sources:`), as its object says.
    `any_ref`: an existing `sources:` entry that gives no ref matches any ref."""

    kind: str
    namespace: str
    name: str
    spec: dict
    any_ref: bool = False


class SourcePlan(NamedTuple):
    """Every source to generate or reference, in order of first use (then unused `sources:`
    entries); the source of each app; and same-URL sources of the cluster that were not reused,
    with the reason."""

    sources: list[Source]
    used: list[Source]
    skipped: list[tuple[Source, ClusterSource, str]]


def kind_of(app: dict) -> str:
    """The Flux kind that deploys the app."""
    return "HelmRelease" if "chart" in app or "chartRef" in app else "Kustomization"


def reads_path(app: dict) -> bool:
    """Whether the app deploys a path of its source (a kustomize overlay, or a chart kept in Git)."""
    return "kustomize" in app or "path" in app.get("chart", {})


def reference_of(app: dict) -> tuple[tuple, object] | None:
    """(field, value) of the reference that names the app's source, or None for an inline source."""
    if "chartRef" in app:
        return ("chartRef",), app["chartRef"]
    if "chart" in app and "sourceRef" in app["chart"]:
        return ("chart", "sourceRef"), app["chart"]["sourceRef"]
    if "kustomize" in app and "sourceRef" in app:
        return ("sourceRef",), app["sourceRef"]
    return None


def in_git(app: dict) -> bool:
    """Whether the app's chart or overlay is read from the Git repository given inline (`git:`)."""
    return reads_path(app) and reference_of(app) is None


def chart_source_kind(app: dict, default_type: str | None = None) -> str | None:
    """HelmRepository or OCIRepository for a chart from a repository URL, else None. An oci://
    chart gets an OCIRepository, unless chart.source.type (or `default_type`) asks for `oci`."""
    chart = app.get("chart", {})
    repository = chart.get("repository")
    if not isinstance(repository, str):
        return None
    wanted = chart.get("source", {}).get("type", default_type) if isinstance(chart.get("source"), dict) \
        else default_type
    return "OCIRepository" if repository.startswith("oci://") and wanted != "oci" else "HelmRepository"


@functools.cache  # apps share a few repositories: each is compared many times
def normalize_url(url: str, kind: str) -> str:
    """Compare URLs as Flux users mean them: scheme and host case, a trailing slash, `.git`."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if kind == "GitRepository" and path.endswith(".git"):
        path = path[:-4]
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def git_ref(git: dict) -> dict:
    """The ref of a `git:` mapping, in Flux's form."""
    return dict(git["ref"]) if "ref" in git else {key: git[key] for key in GIT_REFS if key in git}


def plain_ref(ref: object) -> object:
    """A ref in the form that compares: `name: refs/heads/main` is `branch: main`."""
    if isinstance(ref, dict) and set(ref) == {"name"} and isinstance(ref["name"], str):
        for prefix, key in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
            if ref["name"].startswith(prefix):
                return {key: ref["name"][len(prefix):]}
    return ref


def same_ref(ours: dict, theirs: object) -> bool:
    """Refs that check out the same thing."""
    return plain_ref(ours) == plain_ref(theirs or {})


def source_request(app: dict) -> Source:
    """The inline source an app asks for, before naming (name: the explicit name, or None)."""
    namespace = app.get("sourceNamespace", app["namespace"])
    if in_git(app):
        git = app["git"]
        options = {key: value for key, value in git.items() if key in SOURCE_OPTIONS["GitRepository"]}
        return Source("GitRepository", namespace, git.get("url"), git_ref(git), options, git.get("name"),
                      existing=bool(git.get("existing")))
    chart = app["chart"]
    options = {key: value for key, value in chart.get("source", {}).items() if key != "existing"}
    existing = bool(chart.get("source", {}).get("existing"))
    if chart_source_kind(app) == "OCIRepository":
        url = chart["repository"].rstrip("/") + "/" + chart["name"]
        return Source("OCIRepository", namespace, url, oci_ref(chart.get("version")), options,
                      chart.get("repositoryName"), existing=existing)
    return Source("HelmRepository", namespace, chart["repository"], {}, options, chart.get("repositoryName"),
                  existing=existing)


def oci_ref(version: str | None) -> dict:
    """An exact chart version is an OCI tag (Helm writes `+` as `_`), a digest is a digest, and
    anything else a semver range."""
    if version is None:
        return {"semver": "*"}  # what a HelmRelease chart without version means; OCI's own default is `latest`
    if OCI_DIGEST.match(version):
        return {"digest": version}
    if _EXACT_VERSION.match(version):
        return {"tag": version.replace("+", "_")}
    return {"semver": version}


def identity(source: Source) -> tuple:
    """What makes two derived sources the same object (apart from an explicit name)."""
    plain = plain_ref(source.ref)
    ref = tuple(sorted(plain.items())) if isinstance(plain, dict) else ()
    return (source.kind, source.namespace, normalize_url(str(source.url), source.kind), ref, _frozen(source.options))


def _frozen(value):
    """A hashable, order-independent form of plain data."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value
