"""Upstream files the tests compare against (the Flux CRDs, public Flux repositories), fetched by
URL and pinned sha256 into .upstream/ (git-ignored), never copied into the project.

Each file listed in tests/upstream.lock comes from the first place that has it with the right
sha256: .upstream/ itself, $FLUXGEN_UPSTREAM_MIRROR (a folder laid out OWNER/REPO/COMMIT/PATH),
../shared/upstream/ and ../shared/flux-crds/ beside the project, then its raw GitHub URL. A copy
with another sha256 is refused. When a file cannot be had, setup fails with one message that
names the files and the ways to provide them.

    python tests/upstream.py          # fetch everything (tests/install_tools.py runs it)
"""

import hashlib
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "tests" / "upstream.lock"
CACHE = ROOT / ".upstream"
SHARED = ROOT.parent / "shared"
RAW = "https://raw.githubusercontent.com/{}"


def pinned() -> dict[str, str]:
    """{OWNER/REPO/COMMIT/PATH: sha256} of every file the tests read."""
    rows = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, _, relative = line.partition("  ")
            rows[relative] = digest
    return rows


def path(relative: str) -> Path:
    """The verified local copy of an upstream file (fetch() must have run)."""
    return CACHE / relative


def tree(owner_repo_commit: str) -> Path:
    """The local copy of a pinned repository, e.g. 'fluxcd/flux2-kustomize-helm-example/a484a05...'."""
    return CACHE / owner_repo_commit


def _candidates(relative: str):
    mirror = os.environ.get("FLUXGEN_UPSTREAM_MIRROR")
    if mirror:
        yield Path(mirror) / relative
    yield SHARED / "upstream" / relative
    if "/config/crd/bases/" in relative:
        yield SHARED / "flux-crds" / relative.rsplit("/", 1)[1]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_network = {"reachable": True}  # after one failed download, no file is tried on the network again


def _get(relative: str, digest: str) -> bytes | None:
    for candidate in _candidates(relative):
        if candidate.is_file():
            data = candidate.read_bytes()
            if _sha(data) == digest:
                return data
            print(f"upstream: {candidate} has another sha256 than pinned; not used", file=sys.stderr)
    if not _network["reachable"]:
        return None
    try:
        with urllib.request.urlopen(RAW.format(urllib.parse.quote(relative)), timeout=20) as answer:
            data = answer.read()
    except (OSError, ValueError):
        _network["reachable"] = False
        return None
    return data if _sha(data) == digest else None


def fetch() -> list[str]:
    """Put every pinned file in .upstream/; return the ones that could not be had."""
    missing = []
    for relative, digest in pinned().items():
        target = CACHE / relative
        if target.is_file() and _sha(target.read_bytes()) == digest:
            continue
        data = _get(relative, digest)
        if data is None:
            missing.append(relative)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return missing


def explain(missing: list[str]) -> str:
    shown = "\n".join(f"  {RAW.format(relative)}" for relative in missing[:10])
    more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (f"the tests need {len(missing)} upstream file(s) that are neither in .upstream/ nor in a mirror, and "
            f"the network did not give them:\n{shown}{more}\nProvide them with one of: network access to "
            f"raw.githubusercontent.com; FLUXGEN_UPSTREAM_MIRROR=DIR with the files laid out as OWNER/REPO/COMMIT/PATH; "
            f"or a ../shared folder beside the project (shared/upstream/OWNER/REPO/COMMIT/PATH and shared/flux-crds/).")


if __name__ == "__main__":
    lost = fetch()
    if lost:
        sys.exit(f"upstream: {explain(lost)}")
    print(f"upstream: {len(pinned())} files verified in {CACHE}")
