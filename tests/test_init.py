"""`kubectl fluxgen init` in a real terminal (a pseudo-terminal driven by pexpect), answering as
a person would, through the real kubectl; and unattended, with flags."""

import subprocess
import textwrap

import pexpect
import yaml
from conftest import TOOLS


def spawn(kube_env, cwd) -> pexpect.spawn:
    return pexpect.spawn(str(TOOLS / "kubectl"), ["fluxgen", "init"], cwd=str(cwd), env=kube_env,
                         encoding="utf-8", timeout=30, dimensions=(40, 200))


def answer(child: pexpect.spawn, prompt: str, reply: str) -> None:
    child.expect_exact(prompt)
    child.sendline(reply)


def render(kube_env, cwd) -> list[dict]:
    result = subprocess.run(["kubectl-fluxgen", "render"], cwd=cwd, env=kube_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return list(yaml.safe_load_all(result.stdout))


def test_a_newcomer_answers_the_questions_and_gets_a_spec_with_the_prds_defaults(tmp_path, kube_env):
    child = spawn(kube_env, tmp_path)
    child.expect_exact("How would you like to deploy?")
    answer(child, "Choose [1]:", "")  # Enter: a chart from a Helm or OCI repository
    answer(child, "App name (the HelmRelease or Kustomization):", "Pod_Info")
    child.expect_exact("Error: must be a DNS-1123 label")
    answer(child, "App name (the HelmRelease or Kustomization):", "podinfo")
    answer(child, "Flux namespace [flux-system]:", "")
    answer(child, "Reconcile interval [5m]:", "1d")
    child.expect_exact("Error: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' unit: write 24h)")
    answer(child, "Reconcile interval [5m]:", "")
    answer(child, "Target namespace (where the app runs) [podinfo]:", "")
    answer(child, "Chart repository URL (https:// or oci://):", "ghcr.io/stefanprodan/charts")
    child.expect_exact("Error: must start with https://, http:// or oci://")
    answer(child, "Chart repository URL (https:// or oci://):", "oci://ghcr.io/stefanprodan/charts")
    answer(child, "Chart name:", "podinfo")
    answer(child, "Chart version or range (Enter: the newest):", "6.7.1")
    child.expect_exact("wrote fluxgen.yaml; it renders to:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    spec = yaml.safe_load((tmp_path / "fluxgen.yaml").read_text())
    assert spec["defaults"] == {"namespace": "flux-system", "interval": "5m"}
    assert spec["apps"] == [{"name": "podinfo", "chart": {"repository": "oci://ghcr.io/stefanprodan/charts",
                                                          "name": "podinfo", "version": "6.7.1"}}]
    docs = render(kube_env, tmp_path)
    assert [(d["kind"], d["metadata"].get("namespace")) for d in docs] == [
        ("Namespace", None), ("OCIRepository", "flux-system"), ("HelmRelease", "flux-system")]
    assert docs[2]["spec"]["targetNamespace"] == "podinfo" and docs[2]["spec"]["interval"] == "5m"


COMMENTED = textwrap.dedent("""\
    # Platform apps for the prod cluster. Owned by team platform.
    apiVersion: fluxgen/v1
    apps:
      # ingress first: everything else needs it
      - name: ingress-nginx   # pinned until the 1.12 upgrade
        chart:
          repository: https://kubernetes.github.io/ingress-nginx
          name: ingress-nginx
          version: "4.11.3"
      - name: site
        kustomize: {path: ./site}

    # shared settings
    defaults:
      git:
        url: https://github.com/org/fleet   # the GitOps repository
        branch: main
    """)


def test_running_it_again_adds_a_second_app_and_keeps_every_comment(tmp_path, kube_env):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(COMMENTED)
    child = spawn(kube_env, tmp_path)
    answer(child, "Choose [1]:", "3")  # a Kustomize overlay kept in Git
    answer(child, "App name (the HelmRelease or Kustomization):", "site")  # a HelmRelease may share a name, not this
    child.expect_exact("Error: 'site' is already an app in this spec; choose another name")
    answer(child, "App name (the HelmRelease or Kustomization):", "my-microservice")
    for prompt in ("Flux namespace [flux-system]:", "Reconcile interval [5m]:",
                   "Target namespace (where the app runs) [my-microservice]:",
                   "Git repository URL (https:// or ssh://) [https://github.com/org/fleet]:", "Git branch [main]:",
                   "Path in the Git repository [./apps/my-microservice]:"):
        answer(child, prompt, "")
    child.expect_exact("added my-microservice to fluxgen.yaml; it renders to:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    added = "  - name: my-microservice\n    kustomize:\n      path: ./apps/my-microservice\n"
    head, tail = COMMENTED.split("\n# shared settings\n")
    assert spec.read_text() == head + added + "\n# shared settings\n" + tail  # the rest byte for byte
    kinds = [(d["kind"], d["metadata"]["name"]) for d in render(kube_env, tmp_path)]
    assert ("Kustomization", "my-microservice") in kinds and ("HelmRelease", "ingress-nginx") in kinds


def test_unattended_runs_take_flags_and_fail_fast_without_a_terminal(tmp_path, kube_env):
    def init(*flags):
        return subprocess.run(["kubectl-fluxgen", "init", *flags], cwd=tmp_path, env=kube_env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)

    missing = init("--scenario", "kustomize", "--name", "site")
    assert missing.returncode == 2 and not (tmp_path / "fluxgen.yaml").exists()
    assert "init cannot ask; give --git-url" in missing.stderr
    wrong = init("--scenario", "kustomize", "--name", "site", "--git-url", "git@github.com:org/fleet.git")
    assert wrong.returncode == 2 and "scp-style Git addresses are not valid in Flux; write " \
        "ssh://git@github.com/org/fleet.git" in wrong.stderr
    done = init("--scenario", "kustomize", "--name", "site", "--git-url", "ssh://git@github.com/org/fleet.git",
                "--interval", "10m", "--path", "clusters/prod/site")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout.split("---\n")[-1])["kind"] == "Kustomization"
    assert yaml.safe_load((tmp_path / "fluxgen.yaml").read_text()) == {
        "apiVersion": "fluxgen/v1",
        "defaults": {"namespace": "flux-system", "interval": "10m",
                     "git": {"url": "ssh://git@github.com/org/fleet.git", "branch": "main"}},
        "apps": [{"name": "site", "kustomize": {"path": "clusters/prod/site"}}]}


def test_a_flow_style_apps_list_is_left_alone_with_the_yaml_to_paste(tmp_path, kube_env):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text("apps: [{name: web, kustomize: {path: web}, git: {url: https://github.com/org/fleet}}]\n")
    result = subprocess.run(["kubectl-fluxgen", "init", "--scenario", "kustomize", "--name", "api", "--git-url",
                             "https://github.com/org/fleet"], cwd=tmp_path, env=kube_env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: fluxgen.yaml: `apps:` is not a block list (`- name: ...` items), so "
                                    "init cannot add to it; add this app by hand:\n- name: api\n")
    assert spec.read_text() == "apps: [{name: web, kustomize: {path: web}, git: {url: https://github.com/org/fleet}}]\n"
