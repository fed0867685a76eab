"""`render --reuse-existing` against an emulated cluster (tests/apiserver.py), through the real
kubectl: matching sources are reused, taken names get suffixes, the cluster only ever sees reads,
and every fault ends in exit 1 with a message a person can act on."""

import os
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from apiserver import TOKEN, Emulator
from conftest import SCRIPTS, TOOLS

SPEC = textwrap.dedent("""\
    defaults:
      git: {url: https://github.com/org/fleet}
    apps:
      - name: cert-manager
        chart: {repository: https://charts.jetstack.io, name: cert-manager, version: v1.16.1}
      - name: trust-manager
        chart: {repository: https://charts.jetstack.io, name: trust-manager}
      - name: team-cert-manager
        namespace: team-a
        chart: {repository: https://charts.jetstack.io, name: cert-manager}
      - name: infra
        kustomize: {path: ./infrastructure}
      - name: podinfo
        chart: {repository: oci://ghcr.io/stefanprodan/charts, name: podinfo, version: 6.7.1}
      - name: redis
        chart: {repository: https://charts.bitnami.com/bitnami, name: redis}
    """)


def source(kind: str, namespace: str, name: str, **spec) -> dict:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": {"interval": "1h", **spec}}


CLUSTER = [  # what a bootstrapped cluster typically holds
    source("HelmRepository", "flux-system", "jetstack", url="HTTPS://Charts.Jetstack.io/"),  # same URL, normalized
    source("HelmRepository", "tools", "jetstack", url="https://charts.jetstack.io"),  # a second match, elsewhere
    source("GitRepository", "flux-system", "flux-system", url="https://github.com/org/fleet.git", ref={"branch": "main"}),
    source("GitRepository", "flux-system", "fleet", url="https://github.com/org/fleet", ref={"branch": "dev"}),
    source("OCIRepository", "flux-system", "podinfo", url="oci://ghcr.io/stefanprodan/charts/podinfo",
           ref={"tag": "6.7.0"}, layerSelector={"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                                                 "operation": "copy"}),
    source("HelmRepository", "flux-system", "bitnami", url="oci://registry-1.docker.io/bitnamicharts", type="oci"),
]


@pytest.fixture
def cluster(tmp_path, kube_env):
    """(emulator, environment, project folder): a cluster holding CLUSTER and a spec next to it."""
    with Emulator() as server:
        for obj in CLUSTER:
            server.add(obj)
        env = dict(kube_env, KUBECONFIG=str(server.kubeconfig(tmp_path / "kubeconfig")))
        (tmp_path / "fluxgen.yaml").write_text(SPEC)
        yield server, env, tmp_path


def fluxgen(env: dict, cwd: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "fluxgen", *args], cwd=cwd, env=env, input=input, capture_output=True,
                          text=True, timeout=120)


def test_existing_sources_are_reused_and_taken_names_get_suffixes(cluster):
    server, env, cwd = cluster
    result = fluxgen(env, cwd, "render", "--reuse-existing")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d["kind"] != "Namespace"]
    sources = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].endswith("Repository")}
    podinfo = next(name for kind, name in sources if kind == "OCIRepository")
    bitnami = next(name for kind, name in sources if kind == "HelmRepository")
    assert podinfo.startswith("podinfo-") and len(podinfo) == len("podinfo-") + 6  # 6.7.0 != 6.7.1: not the same
    assert bitnami.startswith("bitnami-") and len(bitnami) == len("bitnami-") + 6  # an OCI HelmRepository owns "bitnami"
    assert sources == {("OCIRepository", podinfo), ("HelmRepository", bitnami)}  # jetstack and the Git repo reused
    refs = {d["metadata"]["name"]: d["spec"].get("chart", {}).get("spec", {}).get("sourceRef") or
            d["spec"].get("chartRef") or d["spec"].get("sourceRef") for d in docs if not d["kind"].endswith("Repository")}
    assert refs == {
        "cert-manager": {"kind": "HelmRepository", "name": "jetstack"},
        "trust-manager": {"kind": "HelmRepository", "name": "jetstack"},
        "team-cert-manager": {"kind": "HelmRepository", "name": "jetstack", "namespace": "flux-system"},
        "infra": {"kind": "GitRepository", "name": "flux-system"},
        "podinfo": {"kind": "OCIRepository", "name": podinfo},
        "redis": {"kind": "HelmRepository", "name": bitnami},
    }
    assert result.stderr.splitlines() == [
        "reused HelmRepository flux-system/jetstack for cert-manager, trust-manager",
        "reused HelmRepository flux-system/jetstack for team-cert-manager (from namespace team-a: "
        "sourceRef.namespace is set; clusters that forbid cross-namespace references will refuse it)",
        "reused GitRepository flux-system/flux-system for infra",
        "not reused: the cluster's OCIRepository flux-system/podinfo has the same URL, but its ref is tag 6.7.0, "
        f"not tag 6.7.1; generating flux-system/{podinfo}",
    ]
    lists = [path for method, path in server.requests if path.endswith("repositories")]
    assert server.writes() == [] and sorted(lists) == sorted(
        f"/apis/source.toolkit.fluxcd.io/v1/{plural}" for plural in ("helmrepositories", "ocirepositories",
                                                                     "gitrepositories"))


def test_a_source_in_the_apps_own_namespace_wins_and_the_choice_is_stable(cluster):
    server, env, cwd = cluster
    server.add(source("HelmRepository", "team-a", "certs", url="https://charts.jetstack.io"))
    (cwd / "fluxgen.yaml").write_text("apps:\n  - {name: x, namespace: team-a, chart: {repository: "
                                      "https://charts.jetstack.io, name: cert-manager}}\n")
    outputs = {fluxgen(env, cwd, "render", "--reuse-existing").stdout for _ in range(2)}
    assert len(outputs) == 1
    [release] = [d for d in yaml.safe_load_all(outputs.pop()) if d["kind"] == "HelmRelease"]
    assert release["spec"]["chart"]["spec"]["sourceRef"] == {"kind": "HelmRepository", "name": "certs"}


def test_rendered_objects_apply_to_the_emulated_cluster_with_server_side_validation(cluster):
    server, env, cwd = cluster
    rendered = fluxgen(env, cwd, "render", "--reuse-existing")
    assert rendered.returncode == 0 and server.writes() == []
    applied = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f", "-"], input=rendered.stdout, env=env,
                             capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("created (server dry run)") == len(list(yaml.safe_load_all(rendered.stdout)))
    broken = rendered.stdout.replace("reconcileStrategy: ChartVersion", "reconcileStrategy: Sometimes", 1)
    refused = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f", "-"], input=broken, env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "is invalid" in refused.stderr and "Sometimes" in refused.stderr
    assert len(server.objects) == len(CLUSTER)  # a dry run stores nothing


def test_an_explicit_name_taken_by_a_different_source_is_an_error(cluster):
    server, env, cwd = cluster
    (cwd / "fluxgen.yaml").write_text("defaults: {git: {url: https://github.com/org/other, name: flux-system}}\n"
                                      "apps:\n  - {name: infra, kustomize: {path: infra}}\n")
    result = fluxgen(env, cwd, "render", "--reuse-existing")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("Error: the cluster already has a different GitRepository flux-system/flux-system "
                             "(another URL, ref or options), and rendering it would replace that one: give infra "
                             "another git.name, or match that source to reuse it\n")


def test_a_cluster_without_flux_renders_as_if_nothing_existed(tmp_path, kube_env):
    with Emulator(flux=False) as server:
        env = dict(kube_env, KUBECONFIG=str(server.kubeconfig(tmp_path / "kubeconfig")))
        (tmp_path / "fluxgen.yaml").write_text(SPEC)
        result = fluxgen(env, tmp_path, "render", "--reuse-existing")
        plain = fluxgen(env, tmp_path, "render")
    assert result.returncode == 0 and result.stdout == plain.stdout
    assert result.stderr == ("warning: the cluster has no Flux source API (source.toolkit.fluxcd.io); rendering as if "
                             "it had no such sources\n")


def _kubectl_wrapper(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-bin" / "kubectl"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


FAULTS = {
    "kubectl not installed": (
        {"PATH": "no-kubectl"}, [],
        "Error: --reuse-existing reads the cluster through kubectl, and kubectl is not on PATH (install it, or set "
        "KUBECTL_PATH)"),
    "KUBECTL_PATH wrong": ({"KUBECTL_PATH": "/nowhere/kubectl"}, [], "Error: KUBECTL_PATH=/nowhere/kubectl: no such "
                                                                      "executable"),
    "unreachable": ({}, ["--context", "unreachable"],
                    "Error: cannot reach the cluster; check the context and that the API server is up: "),
    "credentials refused": ({}, ["--context", "wrong-token"],
                            "Error: the cluster refused the credentials (401 Unauthorized); log in again or check the "
                            "kubeconfig: "),
    "no permission to list": ({"forbid": "gitrepositories"}, [],
                              "Error: not allowed to list gitrepositories.source.toolkit.fluxcd.io in all namespaces "
                              "(403 Forbidden); --reuse-existing needs get and list on Flux sources cluster-wide: "
                              "Error from server (Forbidden): gitrepositories.source.toolkit.fluxcd.io is forbidden: "
                              'User "tester" cannot list resource "gitrepositories" in API group '
                              '"source.toolkit.fluxcd.io" at the cluster scope'),
    "timeout": ({"delay": 3}, ["--request-timeout", "1s"],
                "Error: the cluster did not answer within --request-timeout=1s: Unable to connect to the server: "),
    "unknown context": ({}, ["--context", "staging"],
                        "Error: Error in configuration: context was not found for specified context: staging (see "
                        "kubectl config get-contexts)"),
    "kubeconfig missing": ({}, ["--kubeconfig", "/nonexistent/config"],
                           "Error: the kubeconfig cannot be read: stat /nonexistent/config: no such file or directory"),
    "output kubectl cannot read": ({"garbage": True}, [],
                                   "Error: kubectl get helmrepositories.source.toolkit.fluxcd.io failed: error: "
                                   "serializer for text/plain doesn't exist"),
    "output fluxgen cannot read": (
        {"wrap": 'kubectl "$@" | head -c 20'}, [],
        "Error: `kubectl get helmrepositories.source.toolkit.fluxcd.io --all-namespaces --output=json` printed "
        "something that is not a list of HelmRepository objects (JSONDecodeError: "),
}


@pytest.mark.parametrize("setup, flags, message", FAULTS.values(), ids=FAULTS.keys())
def test_every_fault_ends_cleanly_with_a_message_to_act_on(setup, flags, message, cluster, tmp_path):
    server, env, cwd = cluster
    env = dict(env)
    if setup.get("PATH"):
        env["PATH"] = str(SCRIPTS)
        assert not any(Path(d, "kubectl").exists() for d in env["PATH"].split(os.pathsep))
    if "KUBECTL_PATH" in setup:
        env["KUBECTL_PATH"] = setup["KUBECTL_PATH"]
    if "wrap" in setup:
        env["KUBECTL_PATH"] = _kubectl_wrapper(tmp_path, setup["wrap"].replace("kubectl", str(TOOLS / "kubectl"), 1))
    server.forbidden |= {setup["forbid"]} if "forbid" in setup else set()
    server.delay = setup.get("delay", 0)
    server.garbage = setup.get("garbage", False)
    command = ["kubectl-fluxgen", "render", "--reuse-existing", *flags]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert TOKEN not in result.stderr and "nope" not in result.stderr  # never a credential
    assert server.writes() == []


def test_without_the_flag_fluxgen_never_runs_kubectl(cluster, tmp_path):
    server, env, cwd = cluster
    marker = tmp_path / "kubectl-ran"
    env = dict(env, KUBECTL_PATH=_kubectl_wrapper(tmp_path, f"touch {marker}"))
    env["PATH"] = os.pathsep.join([str(tmp_path / "fake-bin"), env["PATH"]])
    result = subprocess.run(["kubectl-fluxgen", "render"], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0 and not marker.exists() and server.requests == []


def test_cluster_flags_need_the_reuse_flag(cluster):
    _, env, cwd = cluster
    result = fluxgen(env, cwd, "render", "--context", "emulated")
    assert result.returncode == 2 and "--context only applies with --reuse-existing" in result.stderr
    result = fluxgen(env, cwd, "render", "--reuse-existing", "--request-timeout", "soon")
    assert result.returncode == 2 and "--request-timeout 'soon': use a duration such as 10s, 1m or 0" in result.stderr


@pytest.mark.parametrize("metadata, spec", [
    ({"name": ["a", "list"], "namespace": "flux-system"}, {"url": "https://charts.example.com"}),
    ({"name": "fine", "namespace": "flux-system"}, "a string"),
    ({"name": "two\nlines reused HelmRepository x/y", "namespace": "flux-system"}, {"url": "https://charts.jetstack.io"}),
])
def test_a_cluster_answering_with_malformed_sources_is_a_clean_error(cluster, metadata, spec):
    server, env, cwd = cluster
    server.objects[("helmrepositories", "flux-system", "odd")] = {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": metadata, "spec": spec}
    result = fluxgen(env, cwd, "render", "--reuse-existing")
    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" not in result.stderr and "reused" not in result.stderr
    assert result.stderr.startswith("Error: ")


def test_ctrl_c_while_the_cluster_is_slow_ends_at_once(cluster):
    server, env, cwd = cluster
    server.delay = 30
    process = subprocess.Popen(["kubectl", "fluxgen", "render", "--reuse-existing"], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 5  # not the 30 s the cluster takes to answer
    assert (process.returncode, stdout, stderr) == (130, "", "interrupted\n")


def test_an_explicit_git_name_still_reuses_the_bootstrap_repository_of_another_namespace(cluster):
    server, env, cwd = cluster
    (cwd / "fluxgen.yaml").write_text("apps:\n  - name: site\n    namespace: apps\n    kustomize: {path: ./site}\n"
                                      "    git: {url: https://github.com/org/fleet, name: flux-system}\n")
    result = fluxgen(env, cwd, "render", "--reuse-existing")
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in docs] == ["Kustomization"]
    assert docs[0]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
    assert result.stderr.startswith("reused GitRepository flux-system/flux-system for site")


def test_a_same_url_source_with_another_ref_is_named_when_it_is_not_reused(cluster):
    server, env, cwd = cluster
    server.add(source("GitRepository", "flux-system", "operator", url="https://github.com/org/ops",
                      ref={"name": "refs/heads/release"}))
    (cwd / "fluxgen.yaml").write_text("apps:\n  - {name: a, kustomize: {path: a}, git: {url: https://github.com/org/ops,"
                                      " branch: release}}\n  - {name: b, kustomize: {path: b}, git: "
                                      "{url: https://github.com/org/ops, branch: main}}\n")
    result = fluxgen(env, cwd, "render", "--reuse-existing")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "reused GitRepository flux-system/operator for a",  # ref.name refs/heads/release is branch release
        "not reused: the cluster's GitRepository flux-system/operator has the same URL, but its ref is name "
        "refs/heads/release, not branch main; generating flux-system/ops"]
