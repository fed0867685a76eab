"""Flux's own rules for the options a spec passes through, as cerberus data.

Written from the Flux 2.9 APIs (helm.toolkit.fluxcd.io/v2, kustomize.toolkit.fluxcd.io/v1,
source.toolkit.fluxcd.io/v1): field names, types, enums, patterns, required sub-fields and the
CEL rules, expressed as `dependencies` and `excludes`. tests/test_flux_options.py proves these
rules against the real CRDs. Fields fluxgen derives itself (chartRef, sourceRef, path, url,
ref, layerSelector, chart.spec.chart and version) are not options.
"""

from fluxgen.document import Float, Int

DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
SOURCE_TIMEOUT = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"  # sources have no `h` unit for timeouts
VALUES_KEY = r"^[\-._a-zA-Z0-9]+$"
TARGET_PATH = r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$"


def as_text(value):
    """YAML reads `version: 1.10` as a number; keep the text the user wrote."""
    if isinstance(value, (Int, Float)):
        return value.text
    return value


def text(**rules) -> dict:
    return {"type": "string", "coerce": as_text, **rules}


def name(maxlength: int = 253) -> dict:
    return text(empty=False, maxlength=maxlength)


def enum(*values: str, **rules) -> dict:
    return {"type": "string", "allowed": list(values), **rules}


def duration(pattern: str = DURATION) -> dict:
    return text(regex=pattern)


def boolean() -> dict:
    return {"type": "boolean"}


def integer() -> dict:
    """An integer Kubernetes can store (int64); YAML's `true` is not one."""
    return {"type": "integer", "min": -2**63, "max": 2**63 - 1}


def obj(fields: dict, required: tuple = ()) -> dict:
    """A mapping with these fields; the ones named in `required` must be present."""
    return {"type": "dict", "schema": {key: rules | {"required": True} if key in required else rules
                                       for key, rules in fields.items()}}


def items(fields: dict, required: tuple = ()) -> dict:
    return {"type": "list", "schema": obj(fields, required)}


def strings() -> dict:
    return {"type": "list", "schema": text()}


def string_map() -> dict:
    return {"type": "dict", "keysrules": {"type": "string"}, "valuesrules": text()}


def local_ref() -> dict:
    return obj({"name": name()}, required=("name",))


SELECTOR = obj({key: text() for key in
                ("group", "version", "kind", "name", "namespace", "annotationSelector", "labelSelector")})
PATCHES = items({"patch": text(empty=False), "target": SELECTOR}, required=("patch",))
IMAGES = items({"name": text(empty=False), "newName": text(), "newTag": text(), "digest": text()}, required=("name",))
COMMON_METADATA = obj({"labels": string_map(), "annotations": string_map()})
KUBECONFIG = obj({  # CEL: exactly one of configMapRef or secretRef
    "configMapRef": obj({"name": name()}, required=("name",)) | {"required": True, "excludes": "secretRef"},
    "secretRef": obj({"name": name(), "key": text()}, required=("name",)) | {"required": True,
                                                                          "excludes": "configMapRef"},
})
HEALTH_CHECK_EXPRS = items({"apiVersion": text(empty=False), "kind": text(), "current": text(empty=False),
                            "inProgress": text(), "failed": text()}, required=("apiVersion", "current"))
IGNORE_RULES = items({"paths": strings() | {"minlength": 1}, "target": SELECTOR}, required=("paths",))


def _strategy(retry_with: str) -> dict:
    """install/upgrade.strategy; CEL: retryInterval only with the RetryOnFailure strategy."""
    return obj({"name": enum("RemediateOnFailure", "RetryOnFailure"),
                "retryInterval": duration() | {"dependencies": {"name": [retry_with]}}}, required=("name",))


_HELM_ACTION = {key: boolean() for key in ("disableHooks", "disableWait", "disableWaitForJobs")}
_SERVER_SIDE_APPLY = enum("enabled", "disabled", "auto")
_CRDS = enum("Skip", "Create", "CreateReplace")

# Every HelmRelease spec field a user may set (HelmRelease v2). fluxgen derives chart/chartRef.
HELMRELEASE = {
    "timeout": duration(),
    "maxHistory": integer(),
    "serviceAccountName": name(),
    "storageNamespace": name(63),
    "persistentClient": boolean(),
    "suspend": boolean(),
    "kubeConfig": KUBECONFIG,
    "commonMetadata": COMMON_METADATA,
    "healthCheckExprs": HEALTH_CHECK_EXPRS,
    "valuesFrom": items({"kind": enum("Secret", "ConfigMap"), "name": name(),
                         "valuesKey": text(regex=VALUES_KEY, maxlength=253),
                         "targetPath": text(regex=TARGET_PATH, maxlength=250),
                         "optional": boolean(), "literal": boolean()}, required=("kind", "name")),
    "install": obj(_HELM_ACTION | {
        "timeout": duration(), "crds": _CRDS, "createNamespace": boolean(), "replace": boolean(),
        "skipCRDs": boolean(), "serverSideApply": boolean(), "disableOpenAPIValidation": boolean(),
        "disableSchemaValidation": boolean(), "disableTakeOwnership": boolean(),
        "remediation": obj({"retries": integer(), "ignoreTestFailures": boolean(),
                            "remediateLastFailure": boolean()}),
        "strategy": _strategy("RetryOnFailure"),
    }),
    "upgrade": obj(_HELM_ACTION | {
        "timeout": duration(), "crds": _CRDS, "serverSideApply": _SERVER_SIDE_APPLY,
        "chartNameChangeStrategy": enum("InPlaceUpdate", "Reinstall"), "cleanupOnFail": boolean(),
        "force": boolean(), "preserveValues": boolean(), "disableOpenAPIValidation": boolean(),
        "disableSchemaValidation": boolean(), "disableTakeOwnership": boolean(),
        "remediation": obj({"retries": integer(), "ignoreTestFailures": boolean(),
                            "remediateLastFailure": boolean(), "strategy": enum("rollback", "uninstall")}),
        "strategy": _strategy("RetryOnFailure"),
    }),
    "rollback": obj(_HELM_ACTION | {"timeout": duration(), "serverSideApply": _SERVER_SIDE_APPLY,
                                    "cleanupOnFail": boolean(), "force": boolean(), "recreate": boolean()}),
    "uninstall": obj({"timeout": duration(), "deletionPropagation": enum("background", "foreground", "orphan"),
                      "keepHistory": boolean(), "disableHooks": boolean(), "disableWait": boolean()}),
    "test": obj({"enable": boolean(), "ignoreFailures": boolean(), "timeout": duration(),
                 "filters": items({"name": name(), "exclude": boolean()}, required=("name",))}),
    "driftDetection": obj({"mode": enum("enabled", "warn", "disabled"), "ignore": IGNORE_RULES}),
    "waitStrategy": obj({"name": enum("poller", "legacy")}, required=("name",)),
    "postRenderStrategy": enum("nohooks", "combined", "separate"),
    "postRenderers": items({"kustomize": obj({"patches": PATCHES, "images": IMAGES})}),
}

# Every Kustomization spec field a user may set (Kustomization v1). fluxgen derives sourceRef/path.
KUSTOMIZATION = {
    "prune": boolean(),
    "wait": boolean(),
    "timeout": duration(),
    "retryInterval": duration(),
    "force": boolean(),
    "suspend": boolean(),
    "serviceAccountName": name(),
    "kubeConfig": KUBECONFIG,
    "commonMetadata": COMMON_METADATA,
    "healthCheckExprs": HEALTH_CHECK_EXPRS,
    "healthChecks": items({"apiVersion": text(), "kind": text(empty=False), "name": text(empty=False),
                           "namespace": text()}, required=("kind", "name")),
    "patches": PATCHES,
    "images": IMAGES,
    "components": strings(),
    "ignoreMissingComponents": boolean(),
    "namePrefix": text(empty=False, maxlength=200),
    "nameSuffix": text(empty=False, maxlength=200),
    "deletionPolicy": enum("MirrorPrune", "Delete", "WaitForTermination", "Orphan"),
    "buildMetadata": {"type": "list", "schema": enum("originAnnotations", "transformerAnnotations")},
    "ignore": IGNORE_RULES,
    "decryption": obj({"provider": enum("sops"), "secretRef": local_ref(), "serviceAccountName": text()},
                      required=("provider",)),
    "postBuild": obj({
        "substitute": string_map(),
        "substituteFrom": items({"kind": enum("Secret", "ConfigMap"), "name": name(), "optional": boolean()},
                                required=("kind", "name")),
        "substituteStrategy": enum("WithVariables", "Always"),
    }),
}

# GitRepository spec fields besides url and the ref (they live in fluxgen's `git:`).
GITREPOSITORY = {
    "interval": duration(),
    "timeout": duration(SOURCE_TIMEOUT),
    "secretRef": local_ref(),
    "proxySecretRef": local_ref(),
    "provider": enum("generic", "aws", "azure", "github"),
    # CEL: serviceAccountName only with the azure or aws provider
    "serviceAccountName": name() | {"dependencies": {"provider": ["azure", "aws"]}},
    "ignore": text(),
    "sparseCheckout": strings(),
    "recurseSubmodules": boolean(),
    "include": items({"repository": local_ref(), "fromPath": text(), "toPath": text()}, required=("repository",)),
    "verify": obj({"mode": enum("head", "HEAD", "Tag", "TagAndHEAD"), "secretRef": local_ref()},
                  required=("secretRef",)),
    "suspend": boolean(),
}

_SOURCE_COMMON = {
    "interval": duration(),
    "timeout": duration(SOURCE_TIMEOUT),
    "secretRef": local_ref(),
    "certSecretRef": local_ref(),
    "suspend": boolean(),
}

# HelmRepository spec fields. An oci:// chart gets an OCIRepository unless `type: oci` asks for an
# OCI HelmRepository (in maintenance mode in Flux); provider and insecure apply to that type only.
HELMREPOSITORY = _SOURCE_COMMON | {
    "passCredentials": boolean(),
    "type": enum("default", "oci"),
    "provider": enum("generic", "aws", "azure", "gcp"),
    "insecure": boolean(),
}

# HelmRelease chart.spec fields besides chart, version and sourceRef, and chart.metadata: they
# stand in fluxgen's `chart:` for charts read through chart.spec (a Helm repository or Git).
CHART_SPEC = {
    "interval": duration(),
    "reconcileStrategy": enum("ChartVersion", "Revision"),
    "valuesFiles": strings(),
    "ignoreMissingValuesFiles": boolean(),
    "verify": obj({"provider": enum("cosign", "notation"), "secretRef": local_ref()}, required=("provider",)),
    "metadata": COMMON_METADATA,
}

# OCIRepository spec fields besides url, ref and the Helm layerSelector fluxgen sets.
OCIREPOSITORY = _SOURCE_COMMON | {
    "provider": enum("generic", "aws", "azure", "gcp"),
    "insecure": boolean(),
    "proxySecretRef": local_ref(),
    "serviceAccountName": name(),
    "ignore": text(),
    "verify": obj({"provider": enum("cosign", "notation"), "secretRef": local_ref(),
                   "trustedRootSecretRef": local_ref(),
                   "matchOIDCIdentity": items({"issuer": text(empty=False), "subject": text(empty=False)},
                                              required=("issuer", "subject"))},
                  required=("provider",)),
}

# Provider spec fields (notification.toolkit.fluxcd.io/v1beta3); CEL: commitStatusExpr only for
# the Git providers.
PROVIDER_TYPES = ("slack", "discord", "msteams", "rocket", "generic", "generic-hmac", "github", "gitlab", "gitea",
                  "giteapullrequestcomment", "bitbucketserver", "bitbucket", "azuredevops", "googlechat",
                  "googlepubsub", "webex", "sentry", "azureeventhub", "telegram", "lark", "matrix", "opsgenie",
                  "alertmanager", "grafana", "githubdispatch", "githubpullrequestcomment",
                  "gitlabmergerequestcomment", "pagerduty", "datadog", "nats", "zulip", "otel")
PROVIDER = {
    "type": enum(*PROVIDER_TYPES),
    "interval": duration(),
    "channel": text(maxlength=2048),
    "username": text(maxlength=2048),
    "address": text(maxlength=2048),
    "timeout": duration(SOURCE_TIMEOUT),
    "proxy": text(regex=r"^(http|https)://.*$", maxlength=2048),
    "proxySecretRef": local_ref(),
    "secretRef": local_ref(),
    "certSecretRef": local_ref(),
    "serviceAccountName": name(),
    "commitStatusExpr": text() | {"dependencies": {"type": ["github", "gitlab", "gitea", "bitbucketserver",
                                                            "bitbucket", "azuredevops"]}},
    "suspend": boolean(),
}

# Alert spec fields besides providerRef (the entry's Provider).
ALERT = {
    "eventSeverity": enum("info", "error"),
    "eventSources": items({"apiVersion": text(), "kind": enum(
        "Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository", "ImageRepository",
        "ImagePolicy", "ImageUpdateAutomation", "OCIRepository", "ArtifactGenerator", "ExternalArtifact"),
        "name": text(empty=False, maxlength=253), "namespace": text(empty=False, maxlength=253),
        "matchLabels": string_map()}, required=("kind", "name")),
    "inclusionList": strings(),
    "exclusionList": strings(),
    "eventMetadata": string_map(),
    "summary": text(maxlength=255),
    "suspend": boolean(),
}

# Where to look instead, when an option of the other kind is set.
ELSEWHERE = {
    ("HelmRelease", "sourceRef"): "chart.sourceRef (a HelmRepository or Git) or chartRef (an OCIRepository)",
    ("HelmRelease", "retryInterval"): "install.strategy.retryInterval or upgrade.strategy.retryInterval",
    ("HelmRelease", "patches"): "postRenderers[].kustomize.patches",
    ("HelmRelease", "images"): "postRenderers[].kustomize.images",
    ("HelmRelease", "force"): "upgrade.force",
    ("HelmRelease", "ignore"): "driftDetection.ignore",
    ("Kustomization", "postRenderers"): "patches and images",
    ("Kustomization", "driftDetection"): "force",
}
