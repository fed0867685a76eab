"""SCHEMA: the cerberus description of fluxgen.yaml (shape, types, patterns, allowed values).

Data only. Rules that span several fields after `defaults:` are merged (exactly one Git ref,
dependsOn targets, ...) live in rules.py. `meta.hint` is the message shown when a pattern
fails, and `meta.description` documents the field.
"""

import posixpath
import re

from fluxgen import flux_schema as flux
from fluxgen.flux_schema import DURATION, as_text
from fluxgen.practices import RULE_IDS

API_VERSION = "fluxgen/v1"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A DNS label that may hold Flux's postBuild variables (${CLUSTER}, ${NS:=default}), substituted
# by the Kustomization that applies the object: names as many repositories write them.
_VARIABLE = r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[=-][^}]*)?\}"
FLUX_LABEL = rf"^(?:[a-z0-9]|{_VARIABLE})(?:[-a-z0-9]|{_VARIABLE})*(?<!-)$"
GIT_REFS = ("branch", "tag", "semver", "commit")
SOURCE_KINDS = ("HelmRepository", "OCIRepository", "GitRepository")
SHORT_REF = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # NAME or NAMESPACE/NAME


_SCP_URL = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>.+)$")


def _unparsable(value: str) -> str | None:
    """Why a URL cannot be read at all (e.g. an unclosed `[`), or None."""
    from urllib.parse import urlsplit

    try:
        _ = urlsplit(value).port  # the port is parsed lazily; a bad one raises here
    except ValueError as err:
        return f"is not a valid URL ({err})"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(field, value, error):
    """Names, versions and paths are one line of text: a newline or NUL is a mistake."""
    if _CONTROL.search(value):
        error(field, f"must be one line of text without control characters, not {value!r}")


def git_url(field, value, error):
    """Flux takes https://, http:// and ssh:// only; say how to write an scp-style address."""
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        return error(field, "must not contain spaces or control characters")
    if _unparsable(value):
        return error(field, _unparsable(value))
    scp = _SCP_URL.match(value)
    if scp:
        error(field, f"scp-style Git addresses are not valid in Flux; write "
                     f"ssh://{scp['user']}@{scp['host']}/{scp['path'].lstrip('/')}")
    elif not re.match(r"^(http|https|ssh)://[^/\s]+", value):
        error(field, "must start with https://, http:// or ssh://")


def chart_url(field, value, error):
    """A Helm repository or an OCI registry path, without a tag or digest."""
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        error(field, "must not contain spaces or control characters")
    elif _unparsable(value):
        error(field, _unparsable(value))
    elif not re.match(r"^(http|https|oci)://[^/\s]+", value):
        error(field, "must start with https://, http:// or oci://")
    elif value.startswith("oci://") and re.search(r"(:[^/]*|@sha256.*)$", value[6:].split("/", 1)[-1]):
        error(field, "must not carry a tag or digest; put the version in chart.version")


def _too_long(value: str) -> bool:
    """Longer than a file system takes: a name over 255 bytes, or a path over 3,000 characters."""
    return len(value) > 3000 or any(len(part.encode()) > 255 for part in value.split("/"))


def repo_path(field, value, error):
    """A path inside the Git repository: not absolute, never climbing out with `..`."""
    if _CONTROL.search(value) or re.search("[\u0085\u2028\u2029]", value):
        error(field, f"must be one line of text without control characters, not {value!r}")
    elif _too_long(value):
        error(field, "is longer than a file system allows (255 bytes a name, 3,000 characters in all)")
    elif value.startswith("/") or posixpath.normpath(value).split("/")[0] == "..":
        error(field, "must be a path inside the Git repository (no leading '/', no '..' out of it)")


def local_path(field, value, error):
    """A file or folder beside the spec: relative to it, never climbing out with `..`, so a spec
    from a pull request cannot read ~/.kube/config into a HelmRelease."""
    if _CONTROL.search(value):
        error(field, f"must be one line of text without control characters, not {value!r}")
    elif value.startswith("/") or posixpath.normpath(value).split("/")[0] == "..":
        error(field, "must be a path inside the spec's folder (no leading '/', no '..' out of it)")


def _text(description: str, **rules) -> dict:
    if "regex" not in rules and "check_with" not in rules:
        rules["check_with"] = one_line
    return {"type": "string", "coerce": as_text, "empty": False, "meta": {"description": description}, **rules}


# What to tell a user whose value does not match a pattern.
HINTS = {
    DNS_LABEL: "must be a DNS-1123 label: lowercase letters, digits and '-', "
               "starting and ending with a letter or digit",
    FLUX_LABEL: "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or "
                "digit (Flux's ${VAR} substitutions allowed)",
    DURATION: "must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' unit: write 24h)",
    flux.SOURCE_TIMEOUT: "must be a duration in ms, s or m such as 30s or 5m (a source timeout takes no 'h')",
    flux.VALUES_KEY: "must be a key of the Secret or ConfigMap: letters, digits, '-', '_' and '.'",
    flux.TARGET_PATH: "must be a Helm --set path such as a.b[0].c",
}


def _label(description: str, **rules) -> dict:
    return _text(description, regex=DNS_LABEL, maxlength=63, **rules)


def _flux_label(description: str, **rules) -> dict:
    """The name or namespace of a Flux object, which may hold ${VAR} substitutions."""
    return _text(description, regex=FLUX_LABEL, maxlength=63, **rules)


def _duration(description: str) -> dict:
    return _text(description, regex=DURATION)


def _path(description: str) -> dict:
    return _text(description, check_with=repo_path)


GIT_REF = {"type": "dict", "meta": {"description": "Flux's form of the ref: branch, tag, semver, name (a full "
                                                    "ref such as refs/heads/main) or commit"},
           "schema": {"branch": _text("Git branch"), "tag": _text("Git tag"),
                      "semver": _text("semver range matched against Git tags"),
                      "name": _text("a full Git ref, such as refs/heads/main or refs/pull/420/head"),
                      "commit": _text("Git commit SHA (may be combined with branch)")}}
OCI_REF = {"type": "dict", "meta": {"description": "the artifact to pull: tag, semver (with semverFilter) or digest"},
           "schema": {"tag": _text("OCI tag"), "semver": _text("semver range matched against tags"),
                      "semverFilter": _text("regular expression the tags must match"),
                      "digest": _text("OCI digest (sha256:...)")}}
LAYER_SELECTOR = {"type": "dict", "schema": {"mediaType": _text("the layer's media type"),
                                             "operation": {"type": "string", "allowed": ["extract", "copy"]}}}
_EXISTING = {"type": "boolean", "meta": {"description": "made by flux bootstrap or the cluster: referenced, "
                                                        "never generated"}}


def reference(kinds: tuple, description: str) -> dict:
    """A reference to a source: NAME or NAMESPACE/NAME of a `sources:` entry, or Flux's mapping."""
    return {"meta": {"description": description,
                     "hint": f"must be NAME or NAMESPACE/NAME of a sources: entry, or {{kind: {' | '.join(kinds)}, "
                             "name: ..., namespace: ...}"},
            "anyof": [{"type": "string", "regex": SHORT_REF, "maxlength": 127},
                      {"type": "dict", "schema": {"kind": {"type": "string", "allowed": list(kinds)},
                                                  "name": _text("object name", maxlength=253) | {"required": True},
                                                  "namespace": _label("object namespace")}}]}


SOURCE_REF = reference(("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"),
                       "the source of a kustomize app (Kustomization spec.sourceRef)")
CHART_SOURCE_REF = reference(("HelmRepository", "GitRepository", "Bucket"),
                             "the source of a chart read through chart.spec (a HelmRepository or Git)")
CHART_REF = reference(("OCIRepository", "HelmChart", "ExternalArtifact"),
                      "the chart, read from an OCIRepository (HelmRelease spec.chartRef)")

GIT = flux.GITREPOSITORY | {
    "url": _text("URL of the Git repository Flux reads (https:// or ssh://)", check_with=git_url),
    "branch": _text("Git branch (the default ref is branch main)") | {
        "meta": {"description": "Git branch (used when no other ref is given)", "default": "main"}},
    "tag": _text("Git tag"),
    "semver": _text("semver range matched against Git tags"),
    "commit": _text("Git commit SHA (may be combined with branch)"),
    "name": _label("name of the GitRepository (derived from the URL when unset)"),
    "ref": GIT_REF | {"excludes": list(GIT_REFS)},
    "existing": _EXISTING,
}

# HelmRepository and OCIRepository options; which apply depends on the URL (checked in rules.py).
CHART_SOURCE = {"type": "dict", "schema": flux.HELMREPOSITORY | flux.OCIREPOSITORY | {"existing": _EXISTING},
                "meta": {"description": "HelmRepository or OCIRepository spec fields (interval, secretRef, ...)"}}

CHART = {
    "repository": _text("Helm repository URL (https://) or OCI registry (oci://)",
                        check_with=chart_url, excludes="path", dependencies="name"),
    "name": _text("chart name in the repository", excludes="path"),
    "version": _text("chart version or semver range; always a string", excludes="path"),
    "repositoryName": _label("name of the HelmRepository or OCIRepository (derived from the URL when unset)",
                             excludes="path"),
    "source": CHART_SOURCE | {"excludes": "path"},
    "path": _path("path of the chart inside the app's Git repository"),
    "sourceRef": CHART_SOURCE_REF | {"excludes": ["repository", "source", "repositoryName"]},
} | flux.CHART_SPEC

KUSTOMIZE = {
    "path": _path("path of the kustomize overlay inside the app's Git repository") | {"required": True},
    "prune": {"type": "boolean", "meta": {"description": "garbage-collect removed objects", "default": True}},
}

DEPENDENCY = {
    "meta": {"hint": "must be the name of an app, or {name: ..., namespace: ...}"},
    "anyof": [  # cerberus allows no coerce inside anyof
        {"type": "string", "regex": FLUX_LABEL, "maxlength": 63},
        {"type": "dict", "schema": {"name": _text("object name", maxlength=253) | {"required": True},
                                    "namespace": _flux_label("object namespace"),
                                    "readyExpr": _text("CEL expression that decides when the dependency is ready")}},
    ],
}

# Flux options: every HelmRelease and Kustomization spec field a user may set. Which kind an
# option belongs to is checked in rules.py (FLUX_OPTIONS says it).
FLUX_OPTIONS = {"HelmRelease": flux.HELMRELEASE, "Kustomization": flux.KUSTOMIZATION}
SOURCE_OPTIONS = {"HelmRepository": flux.HELMREPOSITORY, "OCIRepository": flux.OCIREPOSITORY,
                  "GitRepository": flux.GITREPOSITORY}

# Keys that may stand in `defaults:` as well as on an app.
SHARED = flux.HELMRELEASE | flux.KUSTOMIZATION | {
    "namespace": _flux_label("metadata.namespace of the Flux objects (default flux-system)") | {
        "meta": {"description": "metadata.namespace of the Flux objects", "default": "flux-system"}},
    "interval": _duration("spec.interval of the HelmRelease or Kustomization (default 5m)") | {
        "meta": {"description": "spec.interval of the HelmRelease or Kustomization", "default": "5m"}},
    "git": {"type": "dict", "schema": GIT, "meta": {"description": "the Git repository apps are read from"}},
    "dependsOn": {"type": "list", "schema": DEPENDENCY,
                  "meta": {"description": "apps (or {name, namespace} objects) that must be ready first"}},
    "targetNamespace": _label("namespace the app is installed into (default: the app's name; null: unset)",
                              nullable=True),
    "sourceNamespace": _label("namespace of the sources derived from inline URLs (default: the app's namespace)"),
    "sourceRef": SOURCE_REF,
    "namespaceObject": {"type": "boolean", "meta": {
        "description": "write a Namespace object for targetNamespace with the HelmRelease (default true; false: "
                       "the namespace exists, or something else creates it)", "default": True}},
}

# `check: {disable: [...]}`: rules of `kubectl fluxgen check` that do not apply (the spec's, or an app's).
CHECK = {"type": "dict", "schema": {"disable": {
    "type": "list", "schema": {"type": "string", "allowed": list(RULE_IDS)},
    "meta": {"description": "ids of the rules check skips"}}},
    "meta": {"description": "settings of kubectl fluxgen check"}}

# A `notifications:` entry: a Provider and an Alert of that name.
NOTIFICATION = {
    "name": _label("metadata.name of the Provider and the Alert", required=True),
    "namespace": _flux_label("metadata.namespace (default: the Flux namespace of defaults)"),
    "provider": {"type": "dict", "required": True, "schema": flux.PROVIDER | {"type": flux.PROVIDER["type"] | {
        "required": True}}, "meta": {"description": "Provider spec fields (type, channel, address, secretRef, ...)"}},
    "alert": {"type": "dict", "schema": flux.ALERT, "meta": {
        "description": "Alert spec fields; by default eventSeverity: error over every HelmRelease and Kustomization "
                       "rendered"}},
}
NOTIFICATIONS = {"type": "list", "schema": {"type": "dict", "schema": NOTIFICATION}, "meta": {
    "description": "failure notifications: a Provider and an Alert per entry (notification.toolkit.fluxcd.io/v1beta3)"}}

DEFAULTS = SHARED | {
    "chart": {"type": "dict", "schema": {"source": CHART_SOURCE | {"schema": flux.HELMREPOSITORY | flux.OCIREPOSITORY},
                                         "sourceRef": CHART_SOURCE_REF},
              "meta": {"description": "options for every chart app's HelmRepository or OCIRepository"}},
}

APP = SHARED | {
    "name": _flux_label("name of the HelmRelease or Kustomization", required=True),
    "chart": {"type": "dict", "schema": CHART, "required": True, "excludes": ["kustomize", "chartRef"],
              "meta": {"description": "deploy a Helm chart"}},
    "chartRef": CHART_REF | {"required": True, "excludes": ["chart", "kustomize"]},
    "kustomize": {"type": "dict", "schema": KUSTOMIZE, "required": True, "excludes": ["chart", "chartRef"],
                  "meta": {"description": "deploy a kustomize overlay (from Git, or an OCI artifact)"}},
    "releaseName": _text("Helm release name (default: the app's name); at most 53 characters",
                         maxlength=53),
    "values": {"type": "dict", "meta": {"description": "Helm values, emitted under spec.values"}},
    "valuesFiles": {"type": "list", "schema": _text("local YAML file, relative to the spec file",
                                                    check_with=local_path),
                    "meta": {"description": "local values files, deep-merged in order, then values on top"}},
    "package": _text("local folder of plain manifests to build the chart or overlay from", check_with=local_path),
    "layer": _label("the kustomize app (a layer such as infra-controllers or apps) whose folder holds this app's "
                    "objects; without it they go into the cluster's own folder"),
    "check": CHECK,
}

# Keys only one kind of app may carry (fluxgen's own chart keys included).
ONLY_FOR = {key: "HelmRelease" for key in set(flux.HELMRELEASE) - set(flux.KUSTOMIZATION)} | {
    "values": "HelmRelease", "valuesFiles": "HelmRelease", "releaseName": "HelmRelease",
    "namespaceObject": "HelmRelease"} | {
    key: "Kustomization" for key in set(flux.KUSTOMIZATION) - set(flux.HELMRELEASE)} | {"sourceRef": "Kustomization"}

# A `sources:` entry, by kind: Flux's spec fields of that kind, its name and namespace, and
# `existing: true` for a source made elsewhere (then only url and ref, for matching).
_ENTRY = {"kind": {"type": "string", "allowed": list(SOURCE_KINDS), "required": True},
          "name": _label("metadata.name of the source", required=True),
          "namespace": _label("metadata.namespace (default: defaults.sourceNamespace, else the Flux namespace)"),
          "existing": _EXISTING,
          "layer": _label("the kustomize app (a layer) whose folder holds this source; without it, sources/ in the "
                          "cluster's folder")}
SOURCE_ENTRIES = {
    "HelmRepository": _ENTRY | flux.HELMREPOSITORY | {
        "url": _text("Helm repository URL (https://, or oci:// with type: oci)", check_with=chart_url)},
    "OCIRepository": _ENTRY | flux.OCIREPOSITORY | {
        "url": _text("OCI repository URL (oci://), without a tag", check_with=chart_url),
        "ref": OCI_REF, "layerSelector": LAYER_SELECTOR},
    "GitRepository": _ENTRY | flux.GITREPOSITORY | {
        "url": _text("Git repository URL (https:// or ssh://)", check_with=git_url), "ref": GIT_REF},
}

CLUSTER = {
    "path": _path("the folder flux bootstrap --path points the cluster at (default: clusters/NAME)"),
    "defaults": {"type": "dict", "schema": DEFAULTS, "default": {},
                 "meta": {"description": "merged over the top-level defaults on this cluster"}},
    "apps": {"type": "dict", "default": {}, "keysrules": {"type": "string"},
             "valuesrules": {"meta": {"hint": "must be a mapping of changes to the app, or false to leave it out"},
                             "anyof": [{"type": "dict"}, {"type": "boolean", "allowed": [False]}]},
             "meta": {"description": "per-app changes on this cluster, by app name (false: not on this cluster)"}},
    "notifications": NOTIFICATIONS | {"meta": {"description": "this cluster's notifications, instead of the spec's"}},
}

SCHEMA = {
    "apiVersion": {"type": "string", "allowed": [API_VERSION]},
    "clusters": {"type": "dict", "keysrules": {"type": "string", "regex": DNS_LABEL},
                 "valuesrules": {"type": "dict", "schema": CLUSTER, "nullable": True},
                 "meta": {"description": "one entry per cluster this spec renders, with what differs on it"}},
    "sources": {"type": "list", "default": [],
                "schema": {"type": "dict", "allow_unknown": True, "meta": {"by_kind": SOURCE_ENTRIES},
                           "schema": {"kind": _ENTRY["kind"]}},
                "meta": {"description": "sources declared once, by name (HelmRepository, OCIRepository, "
                                        "GitRepository); every entry that is not existing is generated"}},
    "defaults": {"type": "dict", "schema": DEFAULTS, "default": {}},
    "notifications": NOTIFICATIONS | {"default": []},
    "check": CHECK,
    "apps": {"type": "list", "required": True, "minlength": 1, "schema": {"type": "dict", "schema": APP},
             "meta": {"description": "the apps to deploy"}},
}
