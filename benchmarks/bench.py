"""Whole-process figures for `kubectl-fluxgen render`: median wall time and peak memory.

Run: python benchmarks/bench.py [--runs N]. Each row starts a fresh process, as users do,
so start-up and imports count. Peak memory is the child's maximum resident set size.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fluxgen.yaml"
IMPORTS = [  # public repositories pinned in tests/upstream.lock (python tests/install_tools.py fetches them)
    ("zhorvath83/home-ops/3ca71f04382acd0ea2bb1bac4704e00de6beb634", {"main": "kubernetes/flux/cluster"}),
    ("joryirving/home-ops/0560f711e5993b5d905fc835f985d6e16c75c6bf",
     {name: f"kubernetes/clusters/{name}" for name in ("main", "test", "utility")}),
]


def spec_with(apps: int) -> str:
    """A realistic mix: charts from shared repositories, OCI charts, Git charts and overlays."""
    lines = ["defaults:", "  git: {url: https://github.com/org/fleet.git}", "apps:"]
    for i in range(apps):
        kind = i % 4
        if kind == 0:
            lines += [f"  - name: app-{i}", f"    chart: {{repository: https://charts{i % 50}.example.com, "
                                             f"name: app-{i}, version: '1.{i}.0'}}",
                      "    values: {replicaCount: 2, image: {tag: v1.0.0}, resources: {limits: {cpu: 500m}}}"]
        elif kind == 1:
            lines += [f"  - name: app-{i}", f"    chart: {{repository: oci://ghcr.io/org/charts, name: app-{i}, "
                                             f"version: '>=1.0.0'}}"]
        elif kind == 2:
            lines += [f"  - name: app-{i}", f"    chart: {{path: charts/app-{i}}}"]
        else:
            lines += [f"  - name: app-{i}", f"    kustomize: {{path: apps/app-{i}}}",
                      f"    dependsOn: [app-{i - 2}]" if i >= 3 and (i - 2) % 4 == 3 else "    interval: 10m"]
    return "\n".join(lines) + "\n"


def clusters_spec(apps: int) -> str:
    """The realistic mix on three clusters: every app in an `apps` layer whose folder is the
    cluster's own, one app in ten with a change per cluster, one in twenty left out of `edge`."""
    lines = spec_with(apps).splitlines()
    lines = [line + ("\n    layer: apps" if line.startswith("  - name: app-") else "") for line in lines]
    lines.insert(lines.index("apps:") + 1, "  - {name: apps, kustomize: {path: ./apps/staging}}")
    clusters = ["clusters:"]
    for cluster in ("staging", "production", "edge"):
        clusters += [f"  {cluster}:", "    apps:", f"      apps: {{kustomize: {{path: ./apps/{cluster}}}}}"]
        clusters += [f"      app-{i}: {{interval: 1m}}" for i in range(0, apps, 10)]
        if cluster == "edge":
            clusters += [f"      app-{i}: false" for i in range(5, apps, 20)]
    return "\n".join(lines + clusters) + "\n"


def manifests(folder: Path, count: int) -> None:
    """`count` manifests in files of 10 documents: Deployments, Services and ConfigMaps in turn."""
    folder.mkdir()
    docs = []
    for i in range(count):
        name = f"app-{i // 3}"
        if i % 3 == 0:
            docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: registry.example.com:5000/team/{name}:1.{i}.0
          args: ["--log-format", "{{{{.Time}}}} {{{{.Level}}}}"]
          resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}
""")
        elif i % 3 == 1:
            docs.append(f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
                        f"spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}\n")
        else:
            docs.append(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"
                        f"data: {{config.yaml: \"level: info\\nformat: '{{{{ .Msg }}}}'\\n\"}}\n")
    for start in range(0, count, 10):
        (folder / f"part-{start // 10:03}.yaml").write_text("---\n".join(docs[start:start + 10]))


def reuse_row(plugin: str, count: int, runs: int, tmp: Path) -> tuple:
    """Render the example with --reuse-existing against an emulated cluster holding `count`
    sources (tests/apiserver.py, in its own process), through the real kubectl (from .tools/bin,
    where tests/install_tools.py puts it)."""
    kubeconfig = tmp / "kubeconfig"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "apiserver.py"), "--sources", str(count),
                               "--kubeconfig", str(kubeconfig)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT / "tests")
    try:
        assert server.stdout.readline() == "ready\n", "the emulated API server did not start"
        env = dict(os.environ, PATH=os.pathsep.join([str(ROOT / ".tools" / "bin"), os.environ["PATH"]]),
                   HOME=str(tmp), KUBECACHEDIR=str(tmp / "kube-cache"), KUBECONFIG=str(kubeconfig))
        took, peak = measure([plugin, "render", "-f", str(EXAMPLE), "--reuse-existing"], runs, env=env)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    return (f"render the example, reusing from {count:,} cluster sources", took, peak,
            "target < 2 s (3 kubectl calls; memory includes kubectl)")


def measure(command: list[str], runs: int, before=lambda: None, env=None, cwd=None, ok=(0,)) -> tuple[float, float]:
    """(median seconds, peak MiB) over `runs` fresh processes; `before` runs ahead of each, untimed;
    an exit code not in `ok` stops the benchmark."""
    times, peaks = [], []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        pid = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd).pid
        _, status, usage = os.wait4(pid, 0)
        times.append(time.perf_counter() - started)
        if os.waitstatus_to_exitcode(status) not in ok:
            sys.exit(f"failed: {' '.join(command)}")
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--package", type=int, default=500, help="manifests to package (0: skip)")
    parser.add_argument("--clusters", type=int, default=1000, help="apps of the 3-cluster spec (0: skip)")
    parser.add_argument("--imports", type=int, default=1, help="time import on the pinned repositories (0: skip)")
    parser.add_argument("--existing", type=int, default=5000, help="sources in the emulated cluster (0: skip)")
    args = parser.parse_args()
    # the entry point pip installed next to this interpreter (a pyenv shim on PATH would add its own start-up)
    installed = Path(sys.executable).parent / "kubectl-fluxgen"
    plugin = str(installed) if installed.exists() else shutil.which("kubectl-fluxgen") or str(ROOT / "kubectl-fluxgen")
    # Installed packages carry compiled bytecode (pip compiles at install); a checkout may not
    # (PYTHONDONTWRITEBYTECODE), which would charge fluxgen, and only fluxgen, for compiling itself.
    import compileall

    compileall.compile_dir(str(ROOT / "fluxgen"), quiet=1)
    # The floor and the example run in turns, so that a busy moment of a shared machine falls on both.
    pairs = [(measure([sys.executable, "-c", "import yaml, click, cerberus"], 1),
              measure([plugin, "render", "-f", str(EXAMPLE)], 1)) for _ in range(args.runs)]
    floor_time = statistics.median(floor[0] for floor, _ in pairs)
    floor_mem = max(floor[1] for floor, _ in pairs)
    example_time = statistics.median(example[0] for _, example in pairs)
    example_mem = max(example[1] for _, example in pairs)
    rows = [("import floor: python -c 'import yaml, click, cerberus'", floor_time, floor_mem, "")]
    rows.append(("render examples/fluxgen.yaml", example_time, example_mem,
                 f"{example_time / floor_time:.2f} x floor (target <= 1.0)"))
    times: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            spec = Path(tmp) / f"apps-{size}.yaml"
            spec.write_text(spec_with(size))
            runs = args.runs if size < 10000 else max(3, args.runs // 3)
            took, peak = measure([plugin, "render", "-f", str(spec)], runs)
            target = {1000: "target <= 0.25 s", 10000: "target <= 1.5 s and <= 100 MiB"}.get(size, "")
            if size == 10000 and 1000 in times:  # linear: ten times the apps, ten times the time past start-up
                target += f"; {(took - floor_time) / (times[1000] - floor_time):.1f} x the time of 1,000 past the floor"
            times[size] = took
            rows.append((f"render {size:,} apps", took, peak, target))
            if size == 1000:
                took, peak = measure([plugin, "check", "-f", str(spec)], runs)
                rows.append((f"check {size:,} apps", took, peak, ""))
        if args.clusters:
            spec = Path(tmp) / "clusters.yaml"
            spec.write_text(clusters_spec(args.clusters))
            took, peak = measure([plugin, "render", "-f", str(spec), "--cluster", "production"], args.runs)
            rows.append((f"render one cluster of 3, {args.clusters:,} apps", took, peak,
                         "target <= 0.30 s" if args.clusters == 1000 else ""))
            out = Path(tmp) / "repo"
            took, peak = measure([plugin, "render", "-f", str(spec), "--output-dir", str(out)], args.runs,
                                 before=lambda: shutil.rmtree(out, ignore_errors=True))
            rows.append((f"write the repository of 3 clusters, {args.clusters:,} apps", took, peak, ""))
            took, peak = measure([plugin, "diff", "-f", str(spec), "--output-dir", str(out)], args.runs)
            rows.append((f"diff the written repository of 3 clusters, {args.clusters:,} apps", took, peak,
                         "nothing to change"))
        for repository, clusters in IMPORTS if args.imports else []:
            root = ROOT / ".upstream" / repository
            if not root.is_dir():
                sys.exit(f"{root}: missing; run python tests/install_tools.py first")
            command = [plugin, "import", *[arg for cluster, folder in clusters.items()
                                           for arg in ("--cluster", f"{cluster}={folder}")]]
            env = dict(os.environ, PATH=os.pathsep.join([str(ROOT / ".tools" / "bin"), os.environ["PATH"]]))
            took, peak = measure(command, max(1, args.runs // 4), env=env, cwd=root)
            rows.append((f"import {repository.split('/')[0]}/{repository.split('/')[1]} ({len(clusters)} cluster(s))",
                         took, peak, "kubectl kustomize per Kustomization, side by side"))
            took, peak = measure([plugin, "check", "--level", "error", "kubernetes"], args.runs, cwd=root,
                                 ok=(0, 1))
            rows.append((f"check the files of {repository.split('/')[0]}/{repository.split('/')[1]}", took, peak,
                         "every YAML file below kubernetes/"))
        if args.existing:
            rows.append(reuse_row(plugin, args.existing, args.runs, Path(tmp)))
        if args.package:
            manifests(Path(tmp) / "manifests", args.package)
            spec = Path(tmp) / "package.yaml"
            spec.write_text("defaults: {git: {url: https://github.com/org/fleet.git}}\napps:\n"
                            "  - {name: chart, chart: {path: apps/chart}, package: manifests}\n"
                            "  - {name: overlay, kustomize: {path: apps/overlay}, package: manifests}\n")
            out = Path(tmp) / "out"
            took, peak = measure([plugin, "render", "-f", str(spec), "--output-dir", str(out), "--force"], args.runs,
                                 before=lambda: shutil.rmtree(out, ignore_errors=True))
            rows.append((f"package {args.package:,} manifests as a chart and an overlay", took, peak, "target < 2 s"))
    print(f"{'case':<58} {'median s':>9} {'peak MiB':>9}  note")
    for name, took, peak, note in rows:
        print(f"{name:<58} {took:>9.3f} {peak:>9.1f}  {note}")


if __name__ == "__main__":
    main()
