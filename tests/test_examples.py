"""The bundled examples render to the objects Flux applies from the public repositories they
describe (pinned in tests/upstream.lock; see flux_tree.py for how Flux's build is done)."""

from pathlib import Path

import crds
import yaml
from click.testing import CliRunner
from flux_tree import key, normalized

from fluxgen.cli import cli

ROOT = Path(__file__).resolve().parent.parent
JORYIRVING = "joryirving/home-ops/0560f711e5993b5d905fc835f985d6e16c75c6bf"


def rendered(spec: Path) -> dict:
    result = CliRunner().invoke(cli, ["render", "-f", str(spec)], prog_name="kubectl fluxgen")
    assert result.exit_code == 0, result.stderr
    return {key(doc): doc for doc in yaml.safe_load_all(result.stdout)}


def test_home_ops_renders_what_flux_applies_in_its_namespaces(flux_tree):
    ours = rendered(ROOT / "examples/home-ops/fluxgen.yaml")
    theirs = {k: applied.obj for k, applied in flux_tree(JORYIRVING, "kubernetes/clusters/main").items()
              if k[1] in ("cert-manager", "database")}
    assert sorted(ours) == sorted(theirs)
    for k, obj in ours.items():
        assert normalized(obj) == normalized(theirs[k]), k
        assert crds.problems(obj) == []
