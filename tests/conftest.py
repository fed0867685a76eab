"""Shared fixtures: the real kubectl/helm on PATH, an isolated kube config, golden-file updates."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run: a gate must not fail on the day a random draw finds something
# new. To explore with fresh random examples: FLUXGEN_HYPOTHESIS=explore python -m pytest
settings.register_profile("gate", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("FLUXGEN_HYPOTHESIS", "gate"))

ROOT = Path(__file__).resolve().parent.parent


def rendered(apps: list[dict]) -> list[dict]:
    """The Flux objects merged apps render to, in order."""
    from fluxgen.resources import build

    return [placed.obj for placed in build(apps).objects]


def lines(problems) -> list[str]:
    """Problems as the command prints them."""
    from fluxgen.cli import format_problem

    return [format_problem(problem) for problem in problems]
TOOLS = ROOT / ".tools" / "bin"
SCRIPTS = Path(sys.executable).parent  # where pip put the kubectl-fluxgen entry point


def pytest_sessionstart(session):
    """No test may skip for want of an upstream file: fetch them, or stop here saying how to get them."""
    import upstream

    missing = upstream.fetch()
    if missing:
        pytest.exit(upstream.explain(missing), returncode=3)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite the expected files of tests/cases from the current output.")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture(scope="session")
def kube_env(tmp_path_factory) -> dict:
    """An environment where `kubectl fluxgen` finds the installed plugin and never sees ~/.kube."""
    if not (TOOLS / "kubectl").exists():
        subprocess.run([sys.executable, str(ROOT / "tests" / "install_tools.py")], check=True)
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ)
    env.update(PATH=os.pathsep.join([str(TOOLS), str(SCRIPTS), env.get("PATH", "")]),
               HOME=str(home), KUBECONFIG=str(home / "kubeconfig"), KUBECACHEDIR=str(home / "cache"))
    env.pop("KUBECTL_PATH", None)
    return env


@pytest.fixture
def kubectl(kube_env):
    """Run the real kubectl (so `kubectl fluxgen ...` goes through kubectl's plugin dispatch)."""
    def run(*args, input=None, cwd=None):
        return subprocess.run([str(TOOLS / "kubectl"), *args], input=input, cwd=cwd, env=kube_env,
                              capture_output=True, text=True, timeout=120)
    return run


@pytest.fixture(scope="session")
def flux_tree(tmp_path_factory, kube_env):
    """flux_tree(repository, entry) -> what Flux applies from a pinned upstream repository (see
    flux_tree.py), built once per session."""
    import flux_tree as tree_module
    import upstream

    built: dict = {}

    def applied(repository: str, entry: str) -> dict:
        if (repository, entry) not in built:
            work = tmp_path_factory.mktemp("flux-tree")
            built[(repository, entry)] = tree_module.flux_applies(upstream.tree(repository), entry, work,
                                                                 str(TOOLS / "kubectl"))
        return built[(repository, entry)]
    return applied

