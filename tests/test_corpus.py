"""The bad-input corpus: every way a spec goes wrong that we know of, each with the exit code and
the exact message `kubectl fluxgen render` must give. Hostile sizes run in a separate process
with a memory cap and a clock; output-folder and command-line faults go through the CLI too."""

import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fluxgen.yaml"

WEB = "apps:\n  - name: web\n    chart: {repository: https://charts.example.com, name: web}\n"
# name: (fluxgen.yaml bytes or text, exit code, the lines on standard error)
SPECS = {
    'unclosed flow sequence': (
        "apps: [\n",
        1, ["fluxgen.yaml:2: while parsing a flow node, did not find expected node content"]),
    'unclosed quote': (
        "apps:\n"
        '  - name: "web\n',
        1, ["fluxgen.yaml:3: while scanning a quoted scalar, found unexpected end of stream"]),
    'bad indentation': (
        "apps:\n"
        "  - name: web\n"
        "   chart: {}\n",
        1, ["fluxgen.yaml:3: while parsing a block collection, did not find expected '-' indicator"]),
    'tab indentation': (
        "apps:\n"
        "\t- name: web\n",
        1, ["fluxgen.yaml:2: while scanning for the next token, found character that cannot start any token"]),
    'mapping value where none is allowed': (
        "apps: - name: web\n",
        1, ["fluxgen.yaml:1: block sequence entries are not allowed in this context"]),
    'unknown escape': (
        "apps:\n"
        '  - name: "we\\qb"\n',
        1, ["fluxgen.yaml:2: while parsing a quoted scalar, found unknown escape character"]),
    'stray closing bracket': (
        "apps: ]\n",
        1, ["fluxgen.yaml:1: while parsing a block node, did not find expected node content"]),
    'undefined alias': (
        "apps: *nothing\n",
        1, ["fluxgen.yaml:1: found undefined alias"]),
    'block scalar indentation': (
        "apps:\n"
        "  - name: |\n"
        " x\n",
        1, ["fluxgen.yaml:3: while parsing a block mapping, did not find expected key"]),
    'colon in a plain key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://c.example.com, name: web}\n"
        "    values:\n"
        "      a:b:c: 1: 2\n",
        1, ["fluxgen.yaml:5: mapping values are not allowed in this context"]),
    'empty file': (
        "",
        1, ["fluxgen.yaml: is empty; it needs at least `apps:` with one app"]),
    'only comments': (
        "# nothing here\n",
        1, ["fluxgen.yaml: is empty; it needs at least `apps:` with one app"]),
    'only a document marker': (
        "---\n",
        1, ["fluxgen.yaml: is empty; it needs at least `apps:` with one app"]),
    'two documents': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "---\n"
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        1, ["fluxgen.yaml:4: holds more than one YAML document; fluxgen reads exactly one"]),
    'three documents': (
        "---\n"
        "apps: []\n"
        "---\n"
        "a: 1\n"
        "---\n"
        "b: 2\n",
        1, ["fluxgen.yaml:3: holds more than one YAML document; fluxgen reads exactly one"]),
    'a list at the top': (
        "- name: web\n",
        1, ["fluxgen.yaml:1: must be a mapping with `apps:` (and optionally `defaults:`)"]),
    'a scalar at the top': (
        "hello\n",
        1, ["fluxgen.yaml:1: must be a mapping with `apps:` (and optionally `defaults:`)"]),
    'null document': (
        "~\n",
        1, ["fluxgen.yaml: is empty; it needs at least `apps:` with one app"]),
    'BOM accepted': (
        "\ufeffapps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        0, []),
    'BOM then an error': (
        "\ufeffapps: [\n",
        1, ["fluxgen.yaml:2: while parsing a flow node, did not find expected node content"]),
    'latin-1 bytes': (
        "apps:\n  - name: caf\xe9\n".encode("latin-1"),
        1, ["fluxgen.yaml:2: not UTF-8 text (byte 0xe9 at offset 19)"]),
    'NUL byte': (
        b"apps:\n  - name: web\x00\n",
        1, ["fluxgen.yaml:2: the character U+0000 is not allowed in YAML (a control character)"]),
    'UTF-16': (
        WEB.encode("utf-16"),
        1, ["fluxgen.yaml:1: not UTF-8 text (byte 0xff at offset 0)"]),
    'control character': (
        "apps:\n"
        "  - name: web\x07\n",
        1, ["fluxgen.yaml:2: the character U+0007 is not allowed in YAML (a control character)"]),
    'escaped lone surrogate': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://c.example.com, name: web}\n"
        '    values: {x: "\\ud800"}\n',
        1, ["fluxgen.yaml:4: while parsing a quoted scalar, found invalid Unicode character escape code"]),
    'python object tag': (
        "apps: !!python/object:os.system {}\n",
        1, ["fluxgen.yaml:1: apps: the tag tag:yaml.org,2002:python/object:os.system is not allowed here"]),
    'python name tag': (
        "apps:\n"
        "  - name: !!python/name:os.system\n",
        1, ["fluxgen.yaml:2: apps[0].name: the tag tag:yaml.org,2002:python/name:os.system is not allowed here"]),
    'custom tag': (
        "apps: !mine [1]\n",
        1, ["fluxgen.yaml:1: apps: the tag !mine is not allowed here"]),
    'set tag': (
        "apps: !!set {a, b}\n",
        1, ["fluxgen.yaml:1: apps: the tag tag:yaml.org,2002:set is not allowed here"]),
    'omap tag': (
        "apps: !!omap [a: 1]\n",
        1, ["fluxgen.yaml:1: apps: the tag tag:yaml.org,2002:omap is not allowed here"]),
    'binary in values': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    values: {blob: !!binary aGVsbG8=}\n",
        1, ["fluxgen.yaml:4: apps[0].values.blob: the tag tag:yaml.org,2002:binary is not allowed here"]),
    'timestamp as a name': (
        "apps:\n"
        "  - name: 2024-01-01\n",
        1, ["fluxgen.yaml:2: apps[0]: set exactly one of chart or chartRef or kustomize"]),
    'complex key': (
        "apps:\n"
        "  - ? [a, b]\n"
        "    : web\n",
        1, ["fluxgen.yaml:2: a mapping key must be a plain value"]),
    'small aliases and merge keys work': (
        "apps:\n"
        "  - name: web\n"
        "    chart: &chart {repository: https://c.example.com, name: web}\n"
        "    values: &v {a: 1, b: [1, 2]}\n"
        "  - name: api\n"
        "    chart: *chart\n"
        "    values: {<<: *v, b: [3]}\n",
        0, []),
    'unknown top-level key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "defalts: {}\n",
        1, ["fluxgen.yaml:4: defalts: unknown field; did you mean 'defaults'?"]),
    'unknown app key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    valuse: {}\n",
        1, ["fluxgen.yaml:4: apps[0].valuse: unknown field; did you mean 'values'?"]),
    'unknown chart key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://c.example.com, name: web, verison: '1'}\n",
        1, ["fluxgen.yaml:3: apps[0].chart.verison: unknown field; did you mean 'version'?"]),
    'unknown git key': (
        "defaults: {git: {url: https://github.com/org/fleet, brach: dev}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n",
        1, ["fluxgen.yaml:1: defaults.git.brach: unknown field; did you mean 'branch'?"]),
    'duplicate top-level key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "apps: []\n",
        1, ["fluxgen.yaml:4: apps: duplicate key (first on line 1)"]),
    'duplicate app key': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    name: other\n",
        1, ["fluxgen.yaml:4: apps[0].name: duplicate key (first on line 2)"]),
    'duplicate app names': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        1, ["fluxgen.yaml:4: apps[1].name: apps[0] is already the HelmRelease 'web' of namespace flux-system"]),
    'duplicate keys in values': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    values:\n"
        "      a: 1\n"
        "      a: 2\n",
        1, ["fluxgen.yaml:6: apps[0].values.a: duplicate key (first on line 5)"]),
    'apps is a mapping': (
        "apps: {name: web}\n",
        1, ["fluxgen.yaml:1: apps: must be a list"]),
    'apps is text': (
        "apps: web\n",
        1, ["fluxgen.yaml:1: apps: must be a list"]),
    'an app is a list': (
        "apps:\n"
        "  - [web]\n",
        1, ["fluxgen.yaml:2: apps[0]: must be a mapping"]),
    'name is a list': (
        "apps:\n"
        "  - name: [web]\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0].name: must be a string"]),
    'name is a boolean': (
        "apps:\n"
        "  - name: yes\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0].name: must be a string, not true (YAML reads unquoted y, n, yes, no, on and off "
            "as true or false: quote it)"]),
    'interval is a number': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    interval: 5\n",
        1, ["fluxgen.yaml:5: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' "
            "unit: write 24h)"]),
    'chart is text': (
        "apps:\n"
        "  - name: web\n"
        "    chart: nginx\n",
        1, ["fluxgen.yaml:3: apps[0].chart: must be a mapping"]),
    'values is a list': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    values: [1, 2]\n",
        1, ["fluxgen.yaml:4: apps[0].values: must be a mapping"]),
    'valuesFiles is text': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    valuesFiles: values.yaml\n",
        1, ["fluxgen.yaml:4: apps[0].valuesFiles: must be a list"]),
    'dependsOn is text': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    dependsOn: web\n",
        1, ["fluxgen.yaml:5: apps[0].dependsOn: must be a list"]),
    'prune is text': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site, prune: 'no'}\n",
        1, ["fluxgen.yaml:4: apps[0].kustomize.prune: must be true or false"]),
    'defaults is a list': (
        "defaults: []\n"
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        1, ["fluxgen.yaml:1: defaults: must be a mapping"]),
    'name in capitals': (
        "apps:\n"
        "  - name: Web\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0].name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and "
            "ending with a letter or digit (Flux's ${VAR} substitutions allowed)"]),
    'name too long': (
        "apps:\n"
        "  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0].name: must be at most 63 characters long"]),
    'name with underscore': (
        "apps:\n"
        "  - name: my_app\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0].name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and "
            "ending with a letter or digit (Flux's ${VAR} substitutions allowed)"]),
    'interval in days': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    interval: 1d\n",
        1, ["fluxgen.yaml:5: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' "
            "unit: write 24h)"]),
    'interval in words': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    interval: 5 minutes\n",
        1, ["fluxgen.yaml:5: apps[0].interval: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' "
            "unit: write 24h)"]),
    'namespace not a label': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    namespace: Flux.System\n",
        1, ["fluxgen.yaml:5: apps[0].namespace: must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (Flux's ${VAR} substitutions allowed)"]),
    'version is a boolean': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://c.example.com, name: web, version: true}\n",
        1, ["fluxgen.yaml:3: apps[0].chart.version: must be a string, not true (YAML reads unquoted y, n, yes, no, on "
            "and off as true or false: quote it)"]),
    'ftp repository': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: ftp://c.example.com, name: web}\n",
        1, ["fluxgen.yaml:3: apps[0].chart.repository: must start with https://, http:// or oci://"]),
    'scp-style git url': (
        "defaults: {git: {url: 'git@github.com:org/fleet.git'}}\n"
        "apps:\n"
        "  - {name: site, kustomize: {path: site}}\n",
        1, ["fluxgen.yaml:1: defaults.git.url: scp-style Git addresses are not valid in Flux; write "
            "ssh://git@github.com/org/fleet.git"]),
    'oci url with a tag': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: oci://ghcr.io/org/web:1.0, name: web}\n",
        1, ["fluxgen.yaml:3: apps[0].chart.repository: must not carry a tag or digest; put the version in "
            "chart.version"]),
    'absolute path': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: /etc}\n",
        1, ["fluxgen.yaml:4: apps[0].kustomize.path: must be a path inside the Git repository (no leading '/', no "
            "'..' out of it)"]),
    'path climbing out': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: ../../etc}\n",
        1, ["fluxgen.yaml:4: apps[0].kustomize.path: must be a path inside the Git repository (no leading '/', no "
            "'..' out of it)"]),
    'chart and kustomize': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    kustomize: {path: a}\n",
        1, ["fluxgen.yaml:2: apps[0]: set exactly one of chart or chartRef or kustomize"]),
    'neither chart nor kustomize': (
        "apps:\n"
        "  - name: web\n",
        1, ["fluxgen.yaml:2: apps[0]: set exactly one of chart or chartRef or kustomize"]),
    'two git refs': (
        "defaults: {git: {url: https://github.com/org/fleet, tag: v1, semver: '>=1'}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n",
        1, ["fluxgen.yaml:1: apps[0].git.semver: give one Git ref (branch, tag, semver or commit; commit may join a "
            "branch), not tag and semver"]),
    'dependsOn unknown app': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    dependsOn: [infra]\n",
        1, ["fluxgen.yaml:5: apps[0].dependsOn[0]: no app is named 'infra' (for a Kustomization that is not in this "
            "spec, write {name: infra, namespace: ...})"]),
    'dependsOn itself': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    dependsOn: [site]\n",
        1, ["fluxgen.yaml:5: apps[0].dependsOn[0]: an app cannot depend on itself"]),
    'dependency cycle': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    dependsOn: [b]\n"
        "  - name: b\n"
        "    kustomize: {path: b}\n"
        "    dependsOn: [site]\n",
        1, ["fluxgen.yaml:8: apps[1].dependsOn: dependency cycle: site -> b -> site"]),
    'dependsOn another kind': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    dependsOn: [web]\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        1, ["fluxgen.yaml:5: apps[0].dependsOn[0]: 'web' is a HelmRelease; a Kustomization can only depend on "
            "Kustomizations (use healthChecks or wait for other kinds)"]),
    'releaseName too long': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    releaseName: rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\n",
        1, ["fluxgen.yaml:4: apps[0].releaseName: must be at most 53 characters long"]),
    'integer beyond int64': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    values: {big: 99999999999999999999}\n",
        1, ["fluxgen.yaml:4: apps[0].values.big: 99999999999999999999 does not fit in 64 bits, so Kubernetes would "
            "store another number; quote it to keep it as text"]),
    'kustomize app with values': (
        "defaults: {git: {url: https://github.com/org/fleet}}\n"
        "apps:\n"
        "  - name: site\n"
        "    kustomize: {path: site}\n"
        "    values: {a: 1}\n",
        1, ["fluxgen.yaml:5: apps[0].values: applies to chart apps (a HelmRelease field), and this is a kustomize app"]),
    'apiVersion wrong': (
        "apiVersion: fluxgen/v2\n"
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n",
        1, ["fluxgen.yaml:1: apiVersion: must be 'fluxgen/v1'"]),
    'no apps': (
        "apps: []\n",
        1, ["fluxgen.yaml:1: apps: needs at least 1 item(s)"]),
    'package on a repository chart': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    package: manifests\n",
        1, ["fluxgen.yaml:4: apps[0].package: builds a chart kept in Git; give chart.path (where the chart goes in "
            "the Git repository) instead of chart.repository"]),
    'enum as a YAML boolean': (
        "apps:\n"
        "  - name: web\n"
        "    chart: {repository: https://charts.example.com, name: web}\n"
        "    driftDetection: {mode: on}\n",
        1, ["fluxgen.yaml:4: apps[0].driftDetection.mode: must be 'enabled' or 'warn' or 'disabled', not true (YAML "
            "reads unquoted on, off, yes and no as true or false)"]),
}


def render(tmp_path: Path, content, *args: str):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(cli, ["render", "-f", str(spec), *args], prog_name="kubectl fluxgen")
    return result, result.stderr.replace(str(spec), "fluxgen.yaml")


@pytest.mark.parametrize("content, code, lines", SPECS.values(), ids=SPECS.keys())
def test_each_bad_spec_ends_in_its_own_clean_error(content, code, lines, tmp_path):
    result, stderr = render(tmp_path, content)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert (result.exit_code, stderr.splitlines()) == (code, lines)
    if code:
        assert result.stdout == ""


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (512 * 2**20, 512 * 2**20))  # bounded memory, or the kernel says no


def _block_nesting(depth: int) -> str:
    return "apps:\n" + "- " * depth + "x\n"


def _alias_bomb() -> str:
    """The billion laughs: ten references per level, ten levels: 10^10 values if expanded."""
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
    return "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels + "apps: *l9\n"


HOSTILE = {  # name: (bytes, the stderr line as a pattern)
    "5 MB of random bytes": (random.Random(0).randbytes(5 * 2**20),
                             r"fluxgen.yaml:\d+: not UTF-8 text \(byte 0x[0-9a-f]{2} at offset \d+\)"),
    "5 MB of random YAML punctuation": (
        "".join(random.Random(1).choices("abc: -[]{}\n\t#'\"!&*", k=5 * 2**20)).encode(), r"fluxgen.yaml:\d+: .+"),
    "nesting 20,000 deep (flow)": (("apps: " + "[" * 20000 + "]" * 20000 + "\n").encode(),
                                   r"fluxgen.yaml:1: nested more than 100 levels deep"),
    "nesting 20,000 deep (block)": (_block_nesting(20000).encode(), r"fluxgen.yaml:2: nested more than 100 levels deep"),
    "aliases that expand to ten billion values": (
        _alias_bomb().encode(), r"fluxgen.yaml: aliases expand to more than 1,000,000 values; refusing to read it"),
}


@pytest.mark.parametrize("content, pattern", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_sizes_are_refused_quickly_in_bounded_memory(content, pattern, tmp_path):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_bytes(content)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fluxgen", "render", "-f", "fluxgen.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, preexec_fn=_capped, timeout=60)
    assert time.monotonic() - started < 30  # a bound against hangs, not a speed figure (see benchmarks/)
    assert (result.returncode, result.stdout) == (1, "")
    assert re.fullmatch(pattern, result.stderr.rstrip("\n")), result.stderr[:500]


def test_small_aliases_still_work_next_to_the_limit(tmp_path):
    result, stderr = render(tmp_path, "apps:\n  - &web {name: web, kustomize: {path: web}, git: {url: "
                                      "https://github.com/org/fleet}}\n  - {<<: *web, name: api}\n")
    assert (result.exit_code, stderr) == (0, "")
    assert result.stdout.count("kind: Kustomization") == 2


def test_paths_that_escape_the_output_folder_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "podinfo").symlink_to(outside)  # an app folder that is a link leading out
    result = CliRunner().invoke(cli, ["render", "-f", str(EXAMPLE), "--output-dir", str(out)],
                                prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {out}/podinfo/namespace.yaml: cannot be written: {out}/podinfo is a " \
                            "symbolic link; fluxgen never writes through a link (make it a real folder)\n"
    assert list(outside.iterdir()) == []


OUTPUT_FAULTS = {  # name: (set-up of tmp_path, arguments after render -f EXAMPLE, exit code, stderr pattern)
    "output folder is a file": (lambda t: (t / "out").write_text("x"), ["--output-dir", "{t}/out"], 2,
                                r"(?s).*Error: Invalid value for '--output-dir': Directory '{t}/out' is a file."),
    "output folder cannot be created": (lambda t: None, ["--output-dir", "/proc/fluxgen"], 1,
                                        r"Error: /proc/fluxgen: cannot write: .+"),
    "a file written by someone else": (lambda t: (t / "out/podinfo").mkdir(parents=True) or
                                       (t / "out/podinfo/helmrelease.yaml").write_text("mine\n"),
                                       ["--output-dir", "{t}/out"], 1,
                                       r"Error: these files were edited by hand or not written by fluxgen; nothing was "
                                       r"written \(use --force to overwrite them\):\n  {t}/out/podinfo/helmrelease.yaml"),
    "json into files": (lambda t: None, ["--output-dir", "{t}/out", "-o", "json"], 2,
                        r"(?s).*Error: --output-dir writes YAML files; -o json only applies to standard output"),
    "force without a folder": (lambda t: None, ["--force"], 2,
                               r"(?s).*Error: --force only applies with --output-dir"),
    "unknown output format": (lambda t: None, ["-o", "xml"], 2,
                              r"(?s).*Error: Invalid value for '-o' / '--output': 'xml' is not one of 'yaml', 'json'."),
}


@pytest.mark.parametrize("setup, args, code, pattern", OUTPUT_FAULTS.values(), ids=OUTPUT_FAULTS.keys())
def test_output_and_command_line_faults(setup, args, code, pattern, tmp_path):
    setup(tmp_path)
    args = [a.replace("{t}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(cli, ["render", "-f", str(EXAMPLE), *args], prog_name="kubectl fluxgen")
    assert (result.exit_code, result.stdout) == (code, "")
    assert re.fullmatch(pattern.replace("{t}", re.escape(str(tmp_path))), result.stderr.rstrip("\n")), result.stderr


COMMAND_FAULTS = {  # name: (arguments, exit code, stderr pattern)
    "spec file missing": (["render", "-f", "{t}/nope.yaml"], 1,
                          r"{t}/nope.yaml: no such file \(name the spec with -f FILE\)"),
    "spec is a folder": (["render", "-f", "{t}"], 2, r"(?s).*Error: Invalid value for '-f' / '--filename': .+"),
    "unknown flag": (["render", "--colour"], 2, r"(?s).*Error: No such option '--colour'\..*"),
    "unknown command": (["rendr"], 2, r"(?s).*Error: No such command 'rendr'.*"),
    "empty standard input": (["render", "-f", "-"], 1, r"<stdin>: is empty; it needs at least `apps:` with one app"),
}


@pytest.mark.parametrize("args, code, pattern", COMMAND_FAULTS.values(), ids=COMMAND_FAULTS.keys())
def test_command_line_faults(args, code, pattern, tmp_path):
    args = [a.replace("{t}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(cli, args, prog_name="kubectl fluxgen", input="")
    assert (result.exit_code, result.stdout) == (code, "")
    assert re.fullmatch(pattern.replace("{t}", re.escape(str(tmp_path))), result.stderr.rstrip("\n")), result.stderr


def test_the_corpus_is_large_enough():
    assert len(SPECS) + len(HOSTILE) + len(OUTPUT_FAULTS) + len(COMMAND_FAULTS) + 1 >= 80


# ---- randomly corrupted specs: only ever fluxgen's own clean errors -----------------------------------

SEEDS = [p.read_text() for p in sorted([*ROOT.glob("examples/**/fluxgen.yaml"), *ROOT.glob("tests/cases/*/fluxgen.yaml")])]
edits = st.lists(st.tuples(st.sampled_from(["delete", "insert", "duplicate", "swap"]), st.integers(0, 10**6),
                           st.integers(1, 40), st.text(alphabet=st.sampled_from(list(":-[]{}#&*!|>'\"\t \n,?%@`~0aZ")),
                                                       max_size=6)), min_size=1, max_size=4)


def corrupt(text: str, steps) -> str:
    for action, where, size, stuff in steps:
        at = where % (len(text) + 1)
        lines = text.splitlines(keepends=True) or [""]
        line = where % len(lines)
        if action == "delete":
            text = text[:at] + text[at + size:]
        elif action == "insert":
            text = text[:at] + stuff + text[at:]
        elif action == "duplicate":
            text = "".join(lines[:line + 1] + lines[line:])
        else:
            other = (line + size) % len(lines)
            lines[line], lines[other] = lines[other], lines[line]
            text = "".join(lines)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), steps=edits)
def test_corrupted_specs_only_end_in_clean_errors(seed, steps, tmp_path_factory):
    folder = tmp_path_factory.mktemp("corrupt")
    spec = folder / "fluxgen.yaml"
    spec.write_text(corrupt(seed, steps))
    for args in (["render"], ["render", "-o", "json"], ["validate"], ["render", "--output-dir", str(folder / "out")]):
        result = CliRunner().invoke(cli, [*args, "-f", str(spec)], prog_name="kubectl fluxgen")
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        if result.exit_code == 2:  # a spec with clusters: printing one needs --cluster, and says so
            assert "--cluster NAME" in result.stderr and "clusters" in spec.read_text()
            continue
        assert result.exit_code in (0, 1)
        if result.exit_code:
            assert result.stdout == "" and result.stderr and "Traceback" not in result.stderr
