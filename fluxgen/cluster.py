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

from fluxgen.errors import ClusterError

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
                     request_timeout: str | None = None) -> tuple[list[dict], list[str]]:
    """([{kind, namespace, name, spec}], warnings) for every Flux source in the cluster."""
    kubectl = kubectl_path()
    flags = [f"--{flag}={value}" for flag, value in
             (("context", context), ("kubeconfig", kubeconfig), ("request-timeout", request_timeout)) if value]
    commands = {kind: [kubectl, "get", f"{plural}.{GROUP}", "--all-namespaces", "--output=json", *flags]
                for kind, plural in KINDS.items()}
    found, missing = [], []
    for kind, result in _run_all(commands, _deadline(request_timeout)).items():  # three reads at once
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
    """Run the commands side by side; their results in the order given."""
    from concurrent.futures import ThreadPoolExecutor

    def run(command: list[str]) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as err:
            raise ClusterError(f"kubectl did not answer within {err.timeout:.0f}s; the cluster may be unreachable "
                               "(set --request-timeout to fail sooner)") from err
        except OSError as err:
            raise ClusterError(f"cannot run {command[0]}: {err.strerror}") from err

    with ThreadPoolExecutor(len(commands)) as pool:
        results = {kind: pool.submit(run, command) for kind, command in commands.items()}
        return {kind: future.result() for kind, future in results.items()}


def _deadline(request_timeout: str | None) -> float:
    """A bound on each kubectl call, so fluxgen never hangs: a margin over --request-timeout."""
    seconds = _seconds(request_timeout) if request_timeout else 0
    return seconds + 30 if seconds else 300


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"([0-9.]+)(ms|s|m|h)?", duration)
    return sum(float(number) * units[unit or "s"] for number, unit in parts)


def _parse(stdout: str, kind: str, command: str) -> list[dict]:
    try:
        listing = json.loads(stdout)
        items = listing["items"]
        return [{"kind": kind, "namespace": item["metadata"]["namespace"], "name": item["metadata"]["name"],
                 "spec": item.get("spec") or {}} for item in items]
    except (ValueError, KeyError, TypeError) as err:
        raise ClusterError(f"`kubectl {command}` printed something that is not a list of {kind} objects "
                           f"({type(err).__name__}: {str(err)[:80]})") from err


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
