"""existing_sources: the Flux sources a cluster already has, read through kubectl, read-only.

The only module that runs kubectl, and it only ever runs `kubectl get`: one call per kind,
JSON output, all namespaces. kubectl brings the user's kubeconfig, contexts, credential plugins
and proxies with it. Its failures become ClusterErrors a person can act on; a cluster without
Flux's source API is not a failure (nothing exists there to reuse).
"""

import json
import os
import re
import shutil
import subprocess
import time

from fluxgen.errors import ClusterError
from fluxgen.sources import ClusterSource

GROUP = "source.toolkit.fluxcd.io"
KINDS = {"HelmRepository": "helmrepositories", "OCIRepository": "ocirepositories", "GitRepository": "gitrepositories"}
NO_API = re.compile(r"the server doesn't have a resource type|could not find the requested resource")


def kubectl_path() -> str:
    """$KUBECTL_PATH (kubectl 1.37+ sets it for its plugins), else kubectl on PATH."""
    explicit = os.environ.get("KUBECTL_PATH")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise ClusterError(f"KUBECTL_PATH={explicit}: no such executable")
        return explicit
    found = shutil.which("kubectl")
    if not found:
        raise ClusterError("--reuse-existing reads the cluster through kubectl, and kubectl is not on PATH "
                           "(install it, or set KUBECTL_PATH)")
    return found


def existing_sources(context: str | None = None, kubeconfig: str | None = None,
                     request_timeout: str | None = None) -> tuple[list[ClusterSource], list[str]]:
    """(every Flux source in the cluster, warnings)."""
    kubectl = kubectl_path()
    flags = [f"--{flag}={value}" for flag, value in
             (("context", context), ("kubeconfig", kubeconfig), ("request-timeout", request_timeout)) if value]
    commands = {kind: [kubectl, "get", f"{plural}.{GROUP}", "--all-namespaces", "--output=json", *flags]
                for kind, plural in KINDS.items()}
    found: list[ClusterSource] = []
    missing = []
    for kind, result in _run_all(commands, deadline(request_timeout)).items():  # three reads at once
        if result.returncode != 0:
            if NO_API.search(result.stderr):
                missing.append(kind)
                continue
            raise ClusterError(_explain(result.stderr, f"{KINDS[kind]}.{GROUP}", request_timeout))
        found += _parse(result.stdout, kind, " ".join(commands[kind][1:5]))
    warnings = []
    if missing:
        what = "no Flux source API" if len(missing) == len(KINDS) else f"no {', '.join(missing)} API"
        warnings.append(f"the cluster has {what} ({GROUP}); rendering as if it had no such sources")
    return found, warnings


def _run_all(commands: dict[str, list[str]], timeout: float) -> dict[str, subprocess.CompletedProcess]:
    """Run the commands side by side; their results in the order given. Ctrl-C stops them all."""
    processes: dict[str, subprocess.Popen] = {}
    try:
        for kind, command in commands.items():
            processes[kind] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               stdin=subprocess.DEVNULL, text=True)
        end = time.monotonic() + timeout
        results = {}
        for kind, process in processes.items():
            stdout, stderr = process.communicate(timeout=max(0.0, end - time.monotonic()))
            results[kind] = subprocess.CompletedProcess(commands[kind], process.returncode, stdout, stderr)
        return results
    except subprocess.TimeoutExpired as err:
        raise ClusterError(f"kubectl did not answer within {timeout:.0f}s; the cluster may be unreachable "
                           "(set --request-timeout to fail sooner)") from err
    except OSError as err:
        raise ClusterError(f"cannot run {commands[next(iter(commands))][0]}: {err.strerror}") from err
    finally:
        for process in processes.values():  # on any way out: no kubectl left running
            if process.poll() is None:
                process.kill()
                process.wait()


MAX_TIMEOUT = 24 * 3600  # longer than anyone waits for a cluster


def deadline(request_timeout: str | None) -> float:
    """A bound on each kubectl call, so fluxgen never hangs: a margin over --request-timeout."""
    seconds = seconds_of(request_timeout) if request_timeout else 0
    return min(seconds + 30, MAX_TIMEOUT) if seconds else 300


def seconds_of(duration: str) -> float:
    """A Go duration (10s, 1m30s, 500ms) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"([0-9.]+)(ms|s|m|h)?", duration)
    return sum(float(number) * units[unit or "s"] for number, unit in parts)


_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _parse(stdout: str, kind: str, command: str) -> list[ClusterSource]:
    """The sources in kubectl's JSON list; anything else it printed is a ClusterError."""
    def wrong(what: str) -> ClusterError:
        return ClusterError(f"`kubectl {command}` printed something that is not a list of {kind} objects ({what})")

    try:
        items = json.loads(stdout)["items"]
    except (ValueError, KeyError, TypeError) as err:
        raise wrong(f"{type(err).__name__}: {str(err)[:80]}") from err
    if not isinstance(items, list):
        raise wrong("items is not a list")
    found = []
    for item in items:
        metadata = item.get("metadata") if isinstance(item, dict) else None
        spec = (item.get("spec") or {}) if isinstance(item, dict) else None
        namespace, name = (metadata.get("namespace"), metadata.get("name")) if isinstance(metadata, dict) else (0, 0)
        if not (isinstance(namespace, str) and _NAME.fullmatch(namespace) and isinstance(name, str)
                and _NAME.fullmatch(name) and isinstance(spec, dict)):
            raise wrong(f"an item without a valid metadata.name, metadata.namespace or spec: {str(item)[:80]!r}")
        found.append(ClusterSource(kind, namespace, name, spec))
    return found


_KLOG = re.compile(r"^[IWEF]\d{4} ")  # kubectl's log lines; its own message comes last
_SECRETS = re.compile(r"(?i)(bearer\s+|token[=:\s]+|password[=:\s]+|client-key-data[=:\s]+)\S+")


def _explain(stderr: str, resource: str, request_timeout: str | None) -> str:
    """kubectl's error, said so that a person knows what to do; never a credential."""
    text = _SECRETS.sub(r"\1<redacted>", stderr.strip())
    said = [line for line in text.splitlines() if line.strip() and not _KLOG.match(line)]
    first = said[-1] if said else (text.splitlines() or ["kubectl failed without a message"])[-1]
    lowered = first.lower()
    if "unauthorized" in lowered or "must be logged in" in lowered:
        return f"the cluster refused the credentials (401 Unauthorized); log in again or check the kubeconfig: {first}"
    if "forbidden" in lowered:
        return (f"not allowed to list {resource} in all namespaces (403 Forbidden); --reuse-existing needs "
                f"get and list on Flux sources cluster-wide: {first}")
    if "context was not found" in lowered or ("context" in lowered and "does not exist" in lowered):
        return f"{first} (see kubectl config get-contexts)"
    if "no such file or directory" in lowered or "stat " in lowered:
        return f"the kubeconfig cannot be read: {first.removeprefix('error: ')}"
    if "timeout" in lowered or "deadline exceeded" in lowered:
        limit = f" within --request-timeout={request_timeout}" if request_timeout else ""
        return f"the cluster did not answer{limit}: {first}"
    if "refused" in lowered or "unable to connect" in lowered or "no such host" in lowered:
        return f"cannot reach the cluster; check the context and that the API server is up: {first}"
    return f"kubectl get {resource} failed: {first}"


FLUX_KINDS = {**{kind: (plural, GROUP) for kind, plural in KINDS.items()},
              "HelmRelease": ("helmreleases", "helm.toolkit.fluxcd.io"),
              "Kustomization": ("kustomizations", "kustomize.toolkit.fluxcd.io")}
_SERVER_SET = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
               "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")
_APPLIED_BY = ("kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace")


def flux_objects(context: str | None = None, kubeconfig: str | None = None,
                 request_timeout: str | None = None) -> list[tuple[dict, tuple[str, str] | None]]:
    """(object, the Kustomization that applied it) of every Flux object in the cluster, as written:
    status, server-set metadata, kubectl's and Flux's own labels and annotations dropped."""
    kubectl = kubectl_path()
    flags = [f"--{flag}={value}" for flag, value in
             (("context", context), ("kubeconfig", kubeconfig), ("request-timeout", request_timeout)) if value]
    commands = {kind: [kubectl, "get", f"{plural}.{group}", "--all-namespaces", "--output=json", *flags]
                for kind, (plural, group) in FLUX_KINDS.items()}
    found = []
    for kind, result in _run_all(commands, deadline(request_timeout)).items():
        if result.returncode != 0:
            if NO_API.search(result.stderr):
                continue
            plural, group = FLUX_KINDS[kind]
            raise ClusterError(_explain(result.stderr, f"{plural}.{group}", request_timeout))
        try:
            items = json.loads(result.stdout).get("items", [])
        except (json.JSONDecodeError, AttributeError) as err:
            raise ClusterError(f"kubectl get {FLUX_KINDS[kind][0]}: the answer is not a JSON list") from err
        found += [_without_server_fields(item) for item in items if isinstance(item, dict) and
                  isinstance(item.get("metadata"), dict) and isinstance(item["metadata"].get("name"), str)]
    return found


def _without_server_fields(item: dict) -> tuple[dict, tuple[str, str] | None]:
    """The object as someone applied it, and the Kustomization that did (from Flux's labels)."""
    metadata = {key: value for key, value in item["metadata"].items() if key not in _SERVER_SET}
    labels = dict(metadata.get("labels") or {})
    namespace, name = labels.get(_APPLIED_BY[1]), labels.get(_APPLIED_BY[0])
    labels = {k: v for k, v in labels.items() if not k.startswith("kustomize.toolkit.fluxcd.io/")}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration" and
                   not k.startswith(("reconcile.fluxcd.io/", "kustomize.toolkit.fluxcd.io/"))}
    metadata = {k: v for k, v in metadata.items() if k not in ("labels", "annotations")}
    metadata |= ({"labels": labels} if labels else {}) | ({"annotations": annotations} if annotations else {})
    obj = {key: value for key, value in item.items() if key not in ("status", "metadata")} | {"metadata": metadata}
    return obj, ((str(namespace), str(name)) if namespace and name else None)
