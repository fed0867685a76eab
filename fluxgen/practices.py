"""The Flux maintainers' production guidance, as rules over Flux objects (for `check`).

Each rule is data: an id, a level, the kinds it looks at, why it matters (the README's table),
and a test that yields (field, message) for every place an object breaks it; the message says
the fix. A test sees one object and the Scope: every object of the same cluster, for rules that
span objects (dependencies, sources, alerts). Pure: no I/O; check.py finds the lines.
"""

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

LEVELS = ("error", "warning", "info")
WAITS = ("wait", "healthChecks", "healthCheckExprs")  # a Kustomization with any of these waits for what it applies
Hit = tuple[tuple, str]  # the field (a path inside the object) and the message


class Rule(NamedTuple):
    id: str
    level: str
    kinds: tuple[str, ...]
    why: str
    test: Callable[[dict, "Scope"], Iterator[Hit]]


def ident(obj: dict) -> tuple[str, str, str]:
    """(kind, namespace, name) of an object; no namespace reads as Flux's default one."""
    metadata = obj.get("metadata") or {}
    return str(obj.get("kind")), str(metadata.get("namespace") or "default"), str(metadata.get("name"))


class Scope:
    """The objects one cluster applies, indexed for the rules that look across objects."""

    def __init__(self, objects: list[dict]):
        self.objects = objects
        self.by_id: dict[tuple, dict] = {ident(obj): obj for obj in objects}
        self.waited_by = waited_on(objects)  # Kustomization -> names of those depending on it
        self.alerts = [obj for obj in objects if obj.get("kind") == "Alert" and not _spec(obj).get("suspend")]

    def source_of(self, obj: dict) -> tuple[tuple, dict] | None:
        """The source an applier reads, when it is among the objects: (field, source)."""
        spec = _spec(obj)
        _, namespace, _ = ident(obj)
        chart = _map(_at(spec, ("chart", "spec")))
        for path, ref in ((("spec", "sourceRef"), spec.get("sourceRef")), (("spec", "chartRef"), spec.get("chartRef")),
                          (("spec", "chart", "spec", "sourceRef"), chart.get("sourceRef"))):
            if isinstance(ref, dict):
                found = self.by_id.get((str(ref.get("kind")), str(ref.get("namespace") or namespace),
                                        str(ref.get("name"))))
                if found is not None:
                    return path, found
        return None

    def alerted(self, obj: dict) -> bool:
        """Whether an Alert sends this object's errors somewhere."""
        kind, namespace, name = ident(obj)
        labels = _map(_at(obj, ("metadata", "labels")))
        for alert in self.alerts:
            _, alert_namespace, _ = ident(alert)
            for source in _list(_spec(alert).get("eventSources")):
                if not isinstance(source, dict) or source.get("kind") != kind:
                    continue
                if str(source.get("namespace") or alert_namespace) != namespace:
                    continue
                if source.get("name") not in ("*", name):
                    continue
                wanted = _map(source.get("matchLabels"))
                if all(labels.get(key) == value for key, value in wanted.items()):
                    return True
        return False


def waited_on(objects: list[dict]) -> dict[tuple, list[str]]:
    """(kind, namespace, name) of each Kustomization others depend on -> the names of those."""
    found: dict[tuple, list[str]] = {}
    for obj in objects:
        kind, namespace, name = ident(obj)
        if kind != "Kustomization":
            continue
        for dep in _list(_spec(obj).get("dependsOn")):
            if isinstance(dep, dict) and dep.get("name"):
                found.setdefault(("Kustomization", str(dep.get("namespace") or namespace), str(dep["name"])),
                                 []).append(name)
    return found


def _spec(obj: dict) -> dict:
    return _map(obj.get("spec"))


def _map(value) -> dict:
    """A mapping as such; anything else (a field of the wrong type) reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def seconds(duration) -> float | None:
    """A Go duration (1h30m, 90s) in seconds; None for anything else (such as ${INTERVAL})."""
    text = str(duration)
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit] for number, unit in parts)


# ---- the rules ---------------------------------------------------------------------------------

def _retry_on_failure(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    missing = [action for action in ("install", "upgrade")
               if _at(spec, (action, "strategy", "name")) != "RetryOnFailure"]
    if missing:
        where = ("spec", missing[0], "strategy") if isinstance(spec.get(missing[0]), dict) else ("spec",)
        yield where, (f"set {' and '.join(f'{action}.strategy' for action in missing)} to {{name: RetryOnFailure, "
                      "retryInterval: 5m}: a failed release is retried as it is, without uninstalling or rolling "
                      "back (no downtime, no lost data)")


def _retry_interval(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    interval = seconds(spec.get("interval"))
    if "retryInterval" not in spec and interval is not None and interval > 300:
        yield ("spec", "interval"), (f"a failed apply is tried again only after the interval ({spec['interval']}); "
                                     "set retryInterval, e.g. 5m")


def _timeout(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    if "timeout" in spec:
        return
    if obj.get("kind") == "HelmRelease":
        yield ("spec",), "set timeout explicitly (Helm's default is 5m, short for charts with slow hooks or images)"
    elif any(spec.get(field) for field in WAITS):
        yield ("spec", "wait") if "wait" in spec else ("spec",), (
            "it waits for its objects to be ready, for as long as its interval: set timeout explicitly")


def _prune(obj: dict, scope: Scope) -> Iterator[Hit]:
    if _spec(obj).get("prune") is not True:
        yield ("spec", "prune"), "set prune: true, or what is removed from Git stays in the cluster"


def _wait(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    dependents = scope.waited_by.get(ident(obj))
    if dependents and not any(spec.get(field) for field in WAITS):
        names = ", ".join(sorted(set(dependents)))
        yield ("spec", "wait") if "wait" in spec else ("spec",), (
            f"{names} depend{'s' if len(set(dependents)) == 1 else ''} on it, but it is ready as soon as it is "
            "applied: set wait: true (or healthChecks) so they start once it has rolled out")


def _chart_version(obj: dict, scope: Scope) -> Iterator[Hit]:
    if obj.get("kind") == "OCIRepository":
        ref = _map(_spec(obj).get("ref"))
        if ref.get("semver") in ("*", "") and _is_chart(obj, scope):
            yield ("spec", "ref", "semver"), "every new chart version, majors included, installs itself: use a " \
                                             "range such as 6.x, or a tag"
        return
    chart = _map(_at(_spec(obj), ("chart", "spec")))
    ref = _map(chart.get("sourceRef"))
    if not chart or ref.get("kind") != "HelmRepository":
        return
    version = chart.get("version")
    if version in (None, "", "*"):
        place = ("spec", "chart", "spec", "version") if "version" in chart else ("spec", "chart", "spec")
        yield place, ("no chart version (or *): every new version, majors included, installs itself; pin a "
                      "version or a range such as 4.x")


def _is_chart(obj: dict, scope: Scope) -> bool:
    selector = _map(_spec(obj).get("layerSelector"))
    return "helm" in str(selector.get("mediaType", "")) or any(
        (found := scope.source_of(other)) is not None and found[1] is obj
        for other in scope.objects if other.get("kind") == "HelmRelease")


def _oci_tag(obj: dict, scope: Scope) -> Iterator[Hit]:
    ref = _spec(obj).get("ref")
    if not ref:
        yield ("spec",), "no ref: the tag latest moves under you; pin a tag, a digest or a semver range"
    elif isinstance(ref, dict) and ref.get("tag") == "latest" and not ref.get("digest"):
        yield ("spec", "ref", "tag"), "the tag latest moves under you: pin a tag, a digest or a semver range"


def _drift_detection(obj: dict, scope: Scope) -> Iterator[Hit]:
    mode = _at(_spec(obj), ("driftDetection", "mode"))
    if mode not in ("enabled", "warn"):
        yield ("spec",), ("without driftDetection (mode: enabled), changes made in the cluster stay until the next "
                          "upgrade; enable it on releases that must not drift (ignore /spec/replicas of autoscaled "
                          "workloads)")


_CRD_SWITCHES = (("installCRDs",), ("crds", "enabled"), ("crds", "install"), ("crds", "create"))


def _crds(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    values = _map(spec.get("values"))
    switch = next((path for path in _CRD_SWITCHES if _at(values, path) is True), None)
    if switch is None:
        return
    install = _at(spec, ("install", "crds"))
    upgrade = _at(spec, ("upgrade", "crds"))
    if install == "Skip" or upgrade != "CreateReplace":
        yield ("spec", "upgrade", "crds") if upgrade is not None else ("spec",), (
            f"the chart installs CRDs (values.{'.'.join(switch)}): set install.crds: CreateReplace and "
            "upgrade.crds: CreateReplace, or Helm never updates them")


def _at(values, path: tuple):
    for key in path:
        if not isinstance(values, dict):
            return None
        values = values.get(key)
    return values


def _create_namespace(obj: dict, scope: Scope) -> Iterator[Hit]:
    if _at(_spec(obj), ("install", "createNamespace")) is True:
        yield ("spec", "install", "createNamespace"), (
            "a namespace Helm creates is outside Flux's pruning and labels: apply a Namespace object with the "
            "release instead (fluxgen writes one unless namespaceObject: false) and drop install.createNamespace")


def _storage_namespace(obj: dict, scope: Scope) -> Iterator[Hit]:
    spec = _spec(obj)
    target = spec.get("targetNamespace")
    if target and spec.get("storageNamespace") != target:
        yield ("spec", "storageNamespace") if "storageNamespace" in spec else ("spec", "targetNamespace"), (
            f"set storageNamespace: {target}, so Helm keeps the release's history with its workloads")


def _failure_alert(obj: dict, scope: Scope) -> Iterator[Hit]:
    if scope.alerts and not scope.alerted(obj):
        yield ("metadata", "name"), (f"no Alert reports its failures: add {{kind: {obj.get('kind')}, name: '*'}} "
                                     "to an Alert's eventSources")


def _source_interval(obj: dict, scope: Scope) -> Iterator[Hit]:
    found = scope.source_of(obj)
    if found is None:
        return
    _, source = found
    mine, theirs = seconds(_spec(obj).get("interval")), seconds(_spec(source).get("interval"))
    if mine is not None and theirs is not None and theirs > mine:
        _, namespace, name = ident(source)
        yield ("spec", "interval"), (
            f"its {source['kind']} {name} is fetched every {_spec(source)['interval']}, so a new revision reaches "
            f"it that late although it reconciles every {_spec(obj)['interval']}: fetch sources often (about 5m) "
            "and reconcile less often (about 30m)")


def _oci_helm_repository(obj: dict, scope: Scope) -> Iterator[Hit]:
    if _spec(obj).get("type") == "oci":
        yield ("spec", "type"), ("an OCI HelmRepository is in maintenance mode: declare an OCIRepository and point "
                                 "the HelmRelease's chartRef at it (which also verifies signatures)")


RULES = (
    Rule("chart-version", "error", ("HelmRelease", "OCIRepository"), "Never `*` or no version in production: a "
         "new major version would install itself. Pin a version or a semver range (`4.x`).", _chart_version),
    Rule("retry-on-failure", "warning", ("HelmRelease",), "Install and upgrade `strategy.name: RetryOnFailure` "
         "retries a failed release as it is, without uninstalling or rolling back.", _retry_on_failure),
    Rule("create-namespace", "warning", ("HelmRelease",), "A namespace created by Helm's "
         "`install.createNamespace` is never pruned; a Namespace object applied with the release is.",
         _create_namespace),
    Rule("storage-namespace", "warning", ("HelmRelease",), "With `targetNamespace`, `storageNamespace` should "
         "match, so the release's history lives with its workloads.", _storage_namespace),
    Rule("crds-policy", "warning", ("HelmRelease",), "A chart whose values turn on its CRDs needs `install.crds` and "
         "`upgrade.crds: CreateReplace`; Helm never upgrades CRDs otherwise.", _crds),
    Rule("prune", "warning", ("Kustomization",), "`prune: true` removes from the cluster what is removed from Git.",
         _prune),
    Rule("wait-for-dependencies", "warning", ("Kustomization",), "A Kustomization others depend on sets `wait: true` "
         "(or health checks), so that they start once it has rolled out.", _wait),
    Rule("timeout", "warning", ("Kustomization",), "A Kustomization that waits (`wait`, health checks) sets an "
         "explicit `timeout`.", _timeout),
    Rule("retry-interval", "warning", ("Kustomization",), "A Kustomization reconciled less often than every 5m sets "
         "`retryInterval` (e.g. 5m), so a failed apply is tried again sooner.", _retry_interval),
    Rule("source-interval", "warning", ("HelmRelease", "Kustomization"), "Sources are fetched at least as often as "
         "the apps that read them reconcile (sources about 5m, appliers about 30m).", _source_interval),
    Rule("oci-tag", "warning", ("OCIRepository",), "OCI artifacts are pinned (a tag, digest or range), never `latest`.",
         _oci_tag),
    Rule("oci-helm-repository", "warning", ("HelmRepository",), "Charts from OCI registries come through an "
         "OCIRepository and `chartRef`, not a HelmRepository of `type: oci`.", _oci_helm_repository),
    Rule("failure-alert", "warning", ("HelmRelease", "Kustomization"), "Every cluster has a Provider and an Alert "
         "with `eventSeverity: error` over all its Kustomizations and HelmReleases.", _failure_alert),
    Rule("helm-timeout", "info", ("HelmRelease",), "An explicit `timeout` on HelmReleases (Helm's default is 5m).",
         _timeout),
    Rule("drift-detection", "info", ("HelmRelease",), "`driftDetection.mode: enabled` on releases that must not "
         "drift (ignoring `/spec/replicas` of autoscaled workloads).", _drift_detection),
)
RULE_IDS = tuple(rule.id for rule in RULES)


def findings(scope: Scope, disabled: Callable[[dict], frozenset[str]]) -> Iterator[tuple[dict, Rule, Hit]]:
    """(object, rule, hit) for every rule an object breaks, unless `disabled(object)` names it."""
    for obj in scope.objects:
        off = disabled(obj)
        for rule in RULES:
            if obj.get("kind") in rule.kinds and rule.id not in off:
                for hit in rule.test(obj, scope):
                    yield obj, rule, hit


def missing_alert(scope: Scope) -> bool:
    """Whether the cluster has HelmReleases or Kustomizations but no Alert at all."""
    return not scope.alerts and any(obj.get("kind") in ("HelmRelease", "Kustomization") for obj in scope.objects)
