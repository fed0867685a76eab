"""The command line: parse flags, call the pipeline, print or write. The only place that exits.

The same program answers as `kubectl fluxgen`, `flux fluxgen` and `python -m fluxgen`; help
text names whichever the user typed.
"""

import contextlib
import errno
import gc
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import click

from fluxgen import __version__
from fluxgen.errors import FluxgenError, Problem, SpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SPEC_FILE = "fluxgen.yaml"


def _prog_name() -> str:
    """`kubectl fluxgen` or `flux fluxgen`, as krew's guide asks plugins to say in their usage."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "flux fluxgen" if base.startswith("flux-") else "kubectl fluxgen"


def format_problem(problem: Problem) -> str:
    """`file:line: field: message`, as compilers and linters print it."""
    place = f"{problem.file}:{problem.line}" if problem.line else problem.file
    return ": ".join(part for part in (place, problem.path, problem.message) if part)


class _Group(click.Group):
    """Turns fluxgen's own errors into a message and exit code 1; anything else is a bug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpecError as err:
            for problem in err.problems:
                click.echo(format_problem(problem), err=True)
            ctx.exit(1)
        except FluxgenError as err:
            raise click.ClickException(str(err)) from err


_file_option = click.option(
    "-f", "--filename", "spec_file", default=SPEC_FILE, show_default=True, metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The fluxgen spec to read; '-' reads standard input.")


@click.group(cls=_Group, context_settings=CONTEXT)
def cli():
    """Generate Flux objects (sources, HelmReleases, Kustomizations) from one fluxgen.yaml.

    \b
    Examples:
      # Print the objects, or apply them
      kubectl fluxgen render
      kubectl fluxgen render | kubectl apply -f -
      # Write them into a GitOps repository, one folder per app
      kubectl fluxgen render --output-dir ./clusters/prod
      # A spec with clusters: print one, or write the whole repository
      kubectl fluxgen render --cluster staging
      kubectl fluxgen render --output-dir .
      # Start from the repository you have
      kubectl fluxgen import --cluster prod=clusters/prod > fluxgen.yaml
      # In CI: the Flux maintainers' guidance, and whether the committed files are current
      kubectl fluxgen check
      kubectl fluxgen diff --output-dir .
    """


@cli.command(context_settings=CONTEXT)
@_file_option
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Format of standard output.")
@click.option("--output-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write files into DIR (one folder per app; with clusters: in the spec, the whole repository) "
                   "instead of printing.")
@click.option("--force", is_flag=True, help="With --output-dir: overwrite files edited by hand or not written "
                                            "by fluxgen.")
@click.option("--cluster", "cluster_name", metavar="NAME",
              help="With clusters: in the spec, print this cluster's objects (--output-dir writes every cluster).")
@click.option("--reuse-existing", is_flag=True,
              help="Ask the current cluster (read-only, through kubectl) for its Flux sources and reference the "
                   "matching ones instead of generating them.")
@click.option("--context", metavar="NAME", help="With --reuse-existing: the kubeconfig context to use.")
@click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False),
              help="With --reuse-existing: the kubeconfig file to use.")
@click.option("--request-timeout", metavar="DURATION",
              help="With --reuse-existing: how long to wait for each answer of the cluster (e.g. 10s, 1m). "
                   "Without it, or with 0, fluxgen gives up after 5 minutes.")
def render(spec_file, output, output_dir, force, cluster_name, reuse_existing, context, kubeconfig,
           request_timeout):
    """Print (or write) the Flux objects for a spec.

    \b
    Sources come first, in the order the apps first use them, then the HelmReleases and
    Kustomizations in the order the apps are written. The same spec always gives the same bytes.
    """
    from fluxgen import output as out
    from fluxgen import pipeline
    from fluxgen.spec import load_spec

    if force and output_dir is None:
        raise click.UsageError("--force only applies with --output-dir")
    if output_dir is not None and not output_dir.strip():
        raise click.UsageError("--output-dir needs a folder (use . for the current one)")
    output_dir = Path(output_dir) if output_dir is not None else None
    if output == "json" and output_dir is not None:
        raise click.UsageError("--output-dir writes YAML files; -o json only applies to standard output")
    cluster = pipeline.ClusterFlags(context, kubeconfig, request_timeout)
    given = [f"--{flag.replace('_', '-')}" for flag, value in cluster._asdict().items() if value]
    if given and not reuse_existing:
        raise click.UsageError(f"{', '.join(given)} only applies with --reuse-existing")
    if request_timeout is not None:
        _check_timeout(request_timeout)
    spec = load_spec(spec_file)
    _check_cluster_choice(spec, cluster_name, output_dir, reuse_existing)
    if output_dir is None:
        result = pipeline.render(pipeline.cluster_named(spec, cluster_name), cluster if reuse_existing else None)
        _warn(result.warnings, result.notes)
        docs = [placed.obj for placed in result.objects]
        _emit(out.dump_json(docs) if output == "json" else out.dump_all(docs))
        for name, package in result.packages.items():
            click.echo(f"not written: the package of {name} ({len(package.files)} files for "
                       f"{package.folder}/); use --output-dir to write it", err=True)
        return
    from fluxgen.writer import write_tree

    files, warnings, notes = pipeline.repository(spec, cluster if reuse_existing else None)
    _warn(warnings, notes + _unlisted(output_dir, spec, files))
    done = write_tree(output_dir, files, force=force)
    if done.restored:
        click.echo(f"put back {done.restored} file(s) of an earlier write to {output_dir} that did not finish",
                   err=True)
    for line in done.ignored:
        click.echo(f"warning: {output_dir / '.fluxgen.sum'}: ignored a line that does not name a file fluxgen "
                   f"writes inside {output_dir}: {line[:120]!r}", err=True)
    for path in done.remove:
        click.echo(f"removed {output_dir / path} (no longer generated)", err=True)
    click.echo(f"wrote {len(done.write)} file(s) to {output_dir}, {len(done.unchanged)} unchanged", err=True)


def _unlisted(output_dir: Path, spec, files: dict[str, str]) -> list[str]:
    """Warnings for the cluster folders where a kustomization.yaml fluxgen does not write already
    stands: Flux builds only what it lists, not the folders fluxgen writes beside it."""
    from fluxgen.folder import entry_kind

    found = []
    for cluster in spec.clusters:
        written = sorted({path[len(cluster.path) + 1:].split("/")[0] for path in files
                          if path.startswith(cluster.path + "/")})
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            if entry_kind(output_dir / cluster.path / name) != "missing" and written:
                found.append(f"warning: {output_dir / cluster.path / name}: Flux builds only what this file lists, "
                             f"so it applies what fluxgen writes to {cluster.path}/ only if it lists "
                             f"{', '.join(written)}")
    return found


def _check_cluster_choice(spec, cluster_name: str | None, output_dir, reuse_existing: bool) -> None:
    """--cluster picks one cluster to print; --output-dir writes them all."""
    names = [cluster.name for cluster in spec.clusters]
    if not names:
        if cluster_name is not None:
            raise click.UsageError(f"--cluster {cluster_name}: the spec has no clusters: section")
        return
    if output_dir is not None and cluster_name:
        raise click.UsageError("--output-dir writes every cluster of the spec; leave out --cluster")
    if output_dir is not None and reuse_existing:
        raise click.UsageError("--reuse-existing reads one cluster: print it with --cluster NAME instead of "
                               "--output-dir")
    if output_dir is None and cluster_name is None:
        raise click.UsageError(f"the spec has clusters ({', '.join(names)}): print one with --cluster NAME, or "
                               "write them all with --output-dir DIR")
    if cluster_name is not None and cluster_name not in names:
        raise click.UsageError(f"--cluster {cluster_name}: the spec has no such cluster (it has {', '.join(names)})")


def _emit(text: str) -> None:
    """Print to standard output; a full disk is a clean error, not a traceback."""
    if sys.stdout is None:
        raise FluxgenError("cannot write to standard output: it is closed")
    try:
        click.echo(text, nl=False)
    except OSError as err:
        with contextlib.suppress(OSError, ValueError):  # the rest is lost: let the exit flush into nothing
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise FluxgenError(f"cannot write to standard output: {err.strerror}") from err


def _check_timeout(value: str) -> None:
    """kubectl's --request-timeout: 0, or a Go duration it can hold."""
    from fluxgen.cluster import seconds_of
    from fluxgen.flux_schema import DURATION

    if value != "0" and not re.fullmatch(DURATION, value):
        raise click.UsageError(f"--request-timeout {value!r}: use a duration such as 10s, 1m or 0")
    if value != "0" and seconds_of(value) > 2**63 / 1e9:
        raise click.UsageError(f"--request-timeout {value!r}: longer than kubectl can wait (a Go duration holds "
                               "about 290 years)")


def _warn(warnings: list[Problem], notes: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {format_problem(warning)}", err=True)
    for note in notes:
        click.echo(note, err=True)


@cli.command(context_settings=CONTEXT)
@_file_option
def validate(spec_file):
    """Check a spec without printing any objects; exit code 1 lists every problem."""
    from fluxgen import pipeline
    from fluxgen.spec import load_spec

    spec = load_spec(spec_file)
    name = "<stdin>" if spec_file == "-" else spec_file
    counts = []
    each: list[tuple[str | None, Any]] = [(c.name, c.spec) for c in spec.clusters]
    for cluster, one in each or [(None, spec)]:
        result = pipeline.render(one)
        _warn(result.warnings, [])
        packaged = sum(len(package.files) for package in result.packages.values())
        namespaces = sum(placed.obj["kind"] == "Namespace" for placed in result.objects)
        counts.append((f"{cluster}: " if cluster else "") + f"{len(result.objects) - namespaces} Flux objects"
                      + (f", {namespaces} Namespace{'s' if namespaces != 1 else ''}" if namespaces else "")
                      + (f", {packaged} packaged files" if packaged else ""))
    if spec.clusters:
        pipeline.repository(spec)  # the clusters' trees must fit together too
    _emit(f"{name}: valid ({'; '.join(counts)})\n")


_INIT_FLAGS = [
    click.option("--scenario", type=click.Choice(["chart", "git-chart", "kustomize"]),
                 help="chart: from a Helm or OCI repository; git-chart: a Helm chart kept in Git; kustomize: a "
                      "Kustomize overlay kept in Git."),
    click.option("--name", help="App name (the HelmRelease or Kustomization)."),
    click.option("--namespace", help="Flux namespace (default flux-system, or the spec's default)."),
    click.option("--interval", help="Reconcile interval (default 5m, or the spec's default)."),
    click.option("--target-namespace", "target_namespace", help="Where the app runs (default: its name)."),
    click.option("--repository", metavar="URL", help="chart: the Helm repository (https://) or OCI registry (oci://)."),
    click.option("--chart", help="chart: the chart's name."),
    click.option("--chart-version", "chart_version", metavar="VERSION",
                 help="chart: version or range (default: newest)."),
    click.option("--git-url", "git_url", metavar="URL", help="git-chart, kustomize: the Git repository."),
    click.option("--branch", help="git-chart, kustomize: the Git branch (default main)."),
    click.option("--path", help="git-chart, kustomize: path in the Git repository (default ./apps/NAME)."),
]


def _with_init_flags(command):
    for option in reversed(_INIT_FLAGS):
        command = option(command)
    return command


@cli.command(context_settings=CONTEXT)
@click.option("-f", "--filename", "spec_file", default=SPEC_FILE, show_default=True, metavar="FILE",
              type=click.Path(dir_okay=False), help="The spec to create, or to add the app to.")
@click.option("--cluster", "cluster_name", metavar="NAME",
              help="With clusters: in the spec, add the app to this cluster only (default: every cluster).")
@_with_init_flags
def init(spec_file, cluster_name, **flags):
    """Ask how to deploy an app, and add it to a spec (a new one, or an existing one).

    \b
    Every question has a default shown in [brackets] (Enter takes it) and a flag, so init also
    runs unattended; when standard input is not a terminal, missing answers are an error.
    Comments and everything else already in the spec stay as they are.

    \b
    Examples:
      kubectl fluxgen init
      kubectl fluxgen init --scenario chart --name podinfo \\
        --repository oci://ghcr.io/stefanprodan/charts --chart podinfo --chart-version 6.7.1
    """
    from fluxgen import interview

    if spec_file == "-":
        raise click.UsageError("init writes a file; name it with -f FILE (standard input is for the answers)")
    from fluxgen.sources import kind_of
    from fluxgen.spec import parse_spec, read_text
    from fluxgen.writer import replace_file

    path = Path(spec_file)
    text, layout = None, interview.Layout()
    if path.exists() or path.is_symlink():
        from fluxgen.files import read_bytes

        text, layout = interview.Layout.of(read_text(spec_file)[1], bom=read_bytes(path)[:3] == b"\xef\xbb\xbf")
    known: dict = {}
    apps: list[dict] = []
    catalogue: list = []
    clusters: list[str] = []
    if text is not None:
        spec = parse_spec(text, str(path), path.parent)  # a spec render refuses is not added to
        known, apps, catalogue = spec.defaults, spec.every_app(), spec.sources
        clusters = [cluster.name for cluster in spec.clusters]
    if cluster_name is not None and (cluster_name not in clusters or cluster_name == ""):
        raise click.UsageError(f"--cluster {cluster_name}: " + (f"the spec has no such cluster (it has "
                                                                f"{', '.join(clusters)})" if clusters else
                                                                "the spec has no clusters: section"))
    answers = {"targetNamespace": flags.pop("target_namespace"), "version": flags.pop("chart_version"),
               "gitUrl": flags.pop("git_url")} | flags
    interactive = sys.stdin.isatty()
    scenario = answers.pop("scenario") or (_ask_scenario(interview) if interactive else None)
    asked = [q for q in interview.questions(known) if scenario is None or scenario in q.when]
    if not interactive:
        missing = (["--scenario"] if scenario is None else []) + [
            q.flag for q in asked if answers.get(q.key) is None and q.default is None]
        if missing:
            raise click.UsageError("standard input is not a terminal, so init cannot ask; give "
                                   + ", ".join(missing) + f" (see {_prog_name()} init --help)")
    if scenario is None:
        raise click.UsageError("choose a scenario with --scenario")
    kind = "Kustomization" if scenario == "kustomize" else "HelmRelease"
    taken = {app["name"] for app in apps if kind_of(app) == kind}  # a HelmRelease and a Kustomization may share one
    for question in asked:
        answers[question.key] = _answer(question, answers, taken, interactive)
    entry = interview.app_entry(scenario, answers, known, catalogue)
    new_text = interview.new_spec(scenario, answers) if text is None else interview.add_app(text, str(path), entry)
    if cluster_name is not None:
        if entry["name"] in {app["name"] for app in apps}:
            raise click.UsageError(f"--cluster {cluster_name}: {entry['name']} already names an app of the spec, and "
                                   f"init leaves the new app out of the other clusters by its name; give it another "
                                   "--name")
        new_text = interview.leave_out(new_text, str(path), entry["name"], [c for c in clusters if c != cluster_name])
    spec = parse_spec(new_text, str(path), path.parent)  # never write what render would refuse
    if cluster_name is not None:
        on = sorted(c.name for c in spec.clusters if any(app["name"] == entry["name"] for app in c.spec.apps))
        if on != [cluster_name]:  # anchors and aliases can make one edit count on other clusters
            raise FluxgenError(f"{path}: init could not add {entry['name']} to cluster {cluster_name} alone (the "
                               f"edit would put it on {', '.join(on) or 'no cluster'}); nothing was written. Add it "
                               f"by hand:\n" + interview.dump([entry]))
    replace_file(path, layout.apply(new_text))
    where = f" (cluster {cluster_name})" if cluster_name else f" (every cluster: {', '.join(clusters)})" \
        if clusters else ""
    click.echo(f"{'wrote' if text is None else 'added ' + entry['name'] + ' to'} {path}{where}; it renders to:",
               err=True)
    try:
        _show_app(spec, entry["name"], cluster_name)
    except FluxgenError as err:
        raise FluxgenError(f"{path} was written, but {err}") from err


def _ask_scenario(interview) -> str:
    click.echo("How would you like to deploy?", err=True)
    for number, (key, label) in enumerate(interview.SCENARIOS.items(), 1):
        click.echo(f"  {number}) {label}  [{key}]", err=True)
    while True:
        choice = interview.scenario_of(click.prompt("Choose", default="1", err=True).strip())
        if choice:
            return choice
        click.echo("Error: answer 1, 2 or 3", err=True)


def _answer(question, answers: dict, taken: set, interactive: bool) -> str:
    """The flag's value, or the person's answer (asked again until it is right), or the default."""
    from fluxgen import interview

    default = question.default(answers) if question.default else None
    given = answers.get(question.key)
    if given is not None or not interactive:
        value = given if given is not None else default
        if value is None:
            raise click.UsageError(f"give {question.flag}")
        problem = interview.check(question, value, taken)
        if problem:
            raise click.BadParameter(problem, param_hint=question.flag)
        return value
    while True:
        value = click.prompt(question.prompt, default=default, err=True,
                             show_default=bool(default)).strip()
        problem = interview.check(question, value, taken)
        if not problem:
            return value
        click.echo(f"Error: {problem}", err=True)


def _show_app(spec, name: str, cluster_name: str | None) -> None:
    from fluxgen.interview import app_objects
    from fluxgen.output import dump_all

    spec = next((c.spec for c in spec.clusters if c.name == cluster_name or cluster_name is None), spec)
    _emit(dump_all(app_objects(spec, name)))


@cli.command("import", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--cluster", "cluster_dirs", multiple=True, metavar="NAME=DIR",
              help="A cluster and the folder flux bootstrap --path points it at (repeat for each cluster); PATH is "
                   "then the repository (default: .), followed from DIR the way Flux does.")
@click.option("--source", default="flux-system/flux-system", show_default=True, metavar="NAMESPACE/NAME",
              help="With --cluster: the GitRepository of the repository itself.")
@click.option("--from-cluster", is_flag=True, help="Read the Flux objects of the current cluster (read-only, through "
                                                   "kubectl) instead of files.")
@click.option("--context", metavar="NAME", help="With --from-cluster: the kubeconfig context to use.")
@click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False),
              help="With --from-cluster: the kubeconfig file to use.")
@click.option("--request-timeout", metavar="DURATION", help="With --from-cluster: how long to wait for each answer.")
def import_(paths, cluster_dirs, source, from_cluster, context, kubeconfig, request_timeout):
    """Print the fluxgen.yaml of an existing Flux repository (or cluster).

    \b
    Reads the HelmRepositories, OCIRepositories, GitRepositories, HelmReleases and
    Kustomizations of YAML files and folders (- for standard input), of a repository followed
    from each cluster's bootstrap folder (--cluster), or of the current cluster (--from-cluster),
    and prints a fluxgen.yaml that renders back to them. What it cannot write as it was is listed
    on standard error.

    \b
    Examples:
      # A repository with two clusters, bootstrapped at clusters/staging and clusters/production
      kubectl fluxgen import --cluster staging=clusters/staging --cluster production=clusters/production > fluxgen.yaml
      # The Flux objects of some files, as one cluster
      kubectl fluxgen import apps/ infrastructure/ > fluxgen.yaml
    """
    from fluxgen import flux_build, importer
    from fluxgen.import_text import spec_text

    flags = {"--context": context, "--kubeconfig": kubeconfig, "--request-timeout": request_timeout}
    given = [flag for flag, value in flags.items() if value]
    if given and not from_cluster:
        raise click.UsageError(f"{', '.join(given)} only applies with --from-cluster")
    if from_cluster and (paths or cluster_dirs):
        raise click.UsageError("--from-cluster reads the cluster: leave out PATH and --cluster")
    if request_timeout is not None:
        _check_timeout(request_timeout)
    if source != "flux-system/flux-system" and not cluster_dirs:
        raise click.UsageError("--source only applies with --cluster")
    namespace, _, name = source.partition("/")
    if not namespace or not name or "/" in name:
        raise click.UsageError(f"--source {source!r}: write NAMESPACE/NAME, e.g. flux-system/flux-system")
    problems: list[str] = []
    found: dict[str, list] = {}
    bootstrap: dict[str, str] = {}
    if from_cluster:
        from fluxgen.cluster import flux_objects

        found[""] = [importer.Found(obj, "the cluster", by) for obj, by in
                     flux_objects(context, kubeconfig, request_timeout)]
        bootstrap[""] = next((str(item.obj.get("spec", {}).get("path", "")) for item in found[""]
                              if importer.key(item.obj) == ("Kustomization", *importer.BOOTSTRAP)), "")
        origin = "the current cluster" + (f" (context {context})" if context else "")
    elif cluster_dirs:
        if len(paths) > 1:
            raise click.UsageError("with --cluster, give one PATH: the repository the clusters' folders are in")
        repo = Path(paths[0] if paths else ".")
        if not repo.is_dir():
            raise click.UsageError(f"{repo}: not a folder (with --cluster, PATH is the repository)")
        from fluxgen.cluster import kubectl_path
        from fluxgen.schema import DNS_LABEL

        kubectl = kubectl_path()
        folders: dict[str, str] = {}
        for pair in cluster_dirs:
            cluster, _, folder = pair.partition("=")
            folder = folder.strip("/").removeprefix("./")
            if not re.fullmatch(DNS_LABEL, cluster) or not folder:
                raise click.UsageError(f"--cluster {pair!r}: write NAME=DIR (a cluster name such as staging, and its "
                                       "folder in the repository)")
            if cluster in folders:
                raise click.UsageError(f"--cluster {cluster}: given twice")
            if folder in folders.values():
                raise click.UsageError(f"--cluster {pair}: {folder} is another cluster's folder too")
            if not (repo / folder).is_dir() or not (repo / folder).resolve().is_relative_to(repo.resolve()):
                raise FluxgenError(f"--cluster {pair}: {repo / folder} is not a folder of the repository")
            folders[cluster] = folder
        failed: list[str] = []
        with flux_build.shipped(repo, failed) as copy:  # one copy of the repository for every cluster
            for cluster, folder in folders.items():
                if copy is not None:
                    found[cluster] = [importer.Found(item.obj, f"Kustomization {item.by[0]}/{item.by[1]}", item.by)
                                      for item in flux_build.flux_applies(copy, folder, (namespace, name), kubectl,
                                                                          failed)]
                if failed:  # what such a Kustomization applies is unknown: without it, it would not be the cluster
                    raise FluxgenError("\n".join(f"cluster {cluster}: {problem}" for problem in failed))
        bootstrap = dict(folders)
        origin = f"the repository {repo}, as Flux applies it"
    else:
        if not paths:
            raise click.UsageError("give the files or folders to read (- for standard input), --cluster NAME=DIR, "
                                   "or --from-cluster")
        found[""] = [importer.Found(obj, where) for obj, where in flux_build.flux_objects(list(paths), problems)]
        origin = ", ".join(paths)
    if not any(found.values()):
        raise FluxgenError(f"no Flux objects found in {origin}" + (f" ({problems[0]})" if problems else ""))
    result = importer.import_spec(found, bootstrap)
    if not result.doc["apps"]:
        raise FluxgenError(f"no HelmRelease or Kustomization found in {origin}; a fluxgen.yaml needs at least one")
    summary = "; ".join(f"{cluster + ': ' if cluster else ''}{count} Flux objects"
                        for cluster, count in result.counts.items())
    args = "".join(f" {arg}" for arg in sys.argv[2:]) if sys.argv[1:2] == ["import"] else ""
    notes = problems + result.notes
    try:
        text = _checked_import(result.doc, notes, lambda n: spec_text(result.doc, args, origin, summary, n))
    finally:  # what was left out, and why, even when nothing could be written
        for note in notes:
            click.echo(f"warning: {note}", err=True)
    _emit(text)


def _checked_import(doc: dict, notes: list[str], text_of) -> str:
    """The imported spec's text, once it validates and renders on every cluster; an app or layer
    that keeps it from doing so is left out and reported (what fluxgen cannot express)."""
    from fluxgen import importer, pipeline
    from fluxgen.spec import parse_spec

    for _ in range(10):
        text = text_of(len(notes))
        try:
            spec = parse_spec(text, "the imported fluxgen.yaml", Path("."))
            for one in [cluster.spec for cluster in spec.clusters] or [spec]:
                pipeline.render(one)
            return text
        except SpecError as err:
            problems = err.problems
        except (FluxgenError, ValueError) as err:
            raise FluxgenError(f"the imported objects render differently than read: {err}") from err
        if not importer.leave_out(doc, [(p.path, p.message) for p in problems], notes):
            raise FluxgenError("the imported objects cannot be written as a valid fluxgen.yaml:\n" + "\n".join(
                f"{p.path}: {p.message}" for p in problems))
        if not doc["apps"]:
            raise FluxgenError("no HelmRelease or Kustomization could be written in a fluxgen.yaml")
    raise FluxgenError("the imported objects cannot be written as a valid fluxgen.yaml")


@cli.command(context_settings=CONTEXT)
@_file_option
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--disable", "disabled", multiple=True, metavar="RULE",
              help="Skip this rule (repeat for more); the spec's check: {disable: [...]} adds to these.")
@click.option("--level", type=click.Choice(["error", "warning", "info"]), default="warning", show_default=True,
              help="The lowest level of finding to print (info adds advice that fits some releases only).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
def check(spec_file, paths, disabled, level, strict):
    """Check the Flux objects against the Flux maintainers' production guidance.

    \b
    Without PATH, checks what the spec renders (every cluster); with PATHs, the Flux objects in
    those files and folders (a GitOps repository; - for standard input). Each finding reads
    FILE:LINE: OBJECT: LEVEL: message [rule-id]; exit code 1 when a rule of level error fails
    (with --strict, also warning). The rules are listed in the README ("Best practices").

    \b
    Examples:
      kubectl fluxgen check
      kubectl fluxgen check clusters/ infrastructure/ apps/
      kubectl fluxgen check --level info --disable helm-timeout
    """
    from fluxgen import check as checking
    from fluxgen.practices import LEVELS, RULE_IDS

    unknown = [rule for rule in disabled if rule not in RULE_IDS]
    if unknown:
        from fluxgen.problems import did_you_mean

        raise click.BadParameter(f"{unknown[0]!r} is no rule" + did_you_mean(unknown[0], RULE_IDS),
                                 param_hint="--disable")
    off = frozenset(disabled)
    if paths:
        if spec_file != SPEC_FILE:
            raise click.UsageError("give either PATHs (Flux objects in files) or -f FILE (a fluxgen spec), not both")
        found, skipped = checking.file_findings(list(paths), off)
        for line in skipped:
            click.echo(f"warning: {line}", err=True)
    else:
        from fluxgen.spec import load_spec

        found = checking.spec_findings(load_spec(spec_file), off)
    found = [finding for finding in found if LEVELS.index(finding.level) <= LEVELS.index(level)]
    _emit("".join(checking.format_finding(finding) + "\n" for finding in found))
    click.echo(checking.summary(found), err=True)
    levels = ("error", "warning") if strict else ("error",)
    if any(finding.level in levels for finding in found):
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@_file_option
@click.option("--output-dir", type=click.Path(file_okay=False), metavar="DIR", required=True,
              help="The folder render --output-dir would write.")
def diff(spec_file, output_dir):
    """Show what render --output-dir would change, as a unified diff; write nothing.

    \b
    New files are compared with /dev/null, as are the files render would remove. Exit code 0:
    nothing would change; 1: something would; 2: the spec or the folder has a problem (as diff
    does). Colour only on a terminal (and not with NO_COLOR set).

    \b
    Examples:
      kubectl fluxgen diff --output-dir .
      # in CI: fail when the committed files are not what the spec renders
      kubectl fluxgen diff --output-dir . > /dev/null || { echo "run kubectl fluxgen render --output-dir ."; exit 1; }
    """
    try:
        _diff(spec_file, output_dir)
    except SpecError as err:
        for problem in err.problems:
            click.echo(format_problem(problem), err=True)
        sys.exit(2)
    except FluxgenError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(2)


def _diff(spec_file: str, output_dir: str) -> None:
    from fluxgen import pipeline
    from fluxgen.spec import load_spec
    from fluxgen.tree_diff import tree_diff, unified

    if not output_dir.strip():
        raise click.UsageError("--output-dir needs a folder (use . for the current one)")
    outdir = Path(output_dir)
    files, warnings, notes = pipeline.repository(load_spec(spec_file))
    _warn(warnings, notes)
    result = tree_diff(outdir, files)
    colour = sys.stdout is not None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    styles = {"+++": "bold", "---": "bold", "@@": "cyan", "+": "green", "-": "red"}
    lines = []
    for change in result.changes:
        for line in unified(outdir, change):
            style = next((s for prefix, s in styles.items() if line.startswith(prefix)), None)
            lines.append(click.style(line.rstrip("\n"), fg=None if style == "bold" else style,
                                     bold=True if style == "bold" else None) + "\n" if colour and style else line)
    _emit("".join(lines))
    if result.hand_edited:
        click.echo("render --output-dir would refuse to overwrite these files without --force (edited by hand or "
                   "not written by fluxgen):\n" + "".join(f"  {outdir / path}\n" for path in result.hand_edited),
                   err=True, nl=False)
    added = sum(change.old is None for change in result.changes)
    removed = sum(change.new is None for change in result.changes)
    click.echo(f"{added} new, {len(result.changes) - added - removed} changed, {removed} removed file(s) in {outdir}",
               err=True)
    if result.changes:
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
def schema():
    """Print the JSON Schema of fluxgen.yaml, for editors.

    \b
    Examples:
      kubectl fluxgen schema > fluxgen.schema.json
      # then, as the first line of fluxgen.yaml:
      # yaml-language-server: $schema=fluxgen.schema.json
    """
    import json

    from fluxgen.editor_schema import json_schema

    _emit(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")


@cli.command(context_settings=CONTEXT)
def version():
    """Print the fluxgen version."""
    _emit(f"fluxgen: v{__version__}\n")


def main() -> None:
    """Entry point of kubectl-fluxgen, flux-fluxgen and `python -m fluxgen`."""
    # A run reads a spec into many small objects and leaves little garbage in cycles: Python's
    # default of a collection every 700 new objects would spend a third of a large render
    # walking them (mypy, also a short-lived process, raises the threshold alike).
    gc.set_threshold(200_000, 30, 30)
    if hasattr(signal, "SIGPIPE"):  # `kubectl fluxgen render | head` ends quietly, like other CLIs
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if sys.argv[1:2] == ["__complete"]:  # how the flux CLI asks its plugins for completions
        from fluxgen.completion import kubectl_complete

        sys.argv = [sys.argv[0], *sys.argv[2:]]
        return kubectl_complete()
    prog_name = _prog_name()
    complete_var = f"_{prog_name.replace(' ', '_').upper()}_COMPLETE"  # _KUBECTL_FLUXGEN_COMPLETE
    if os.environ.get(complete_var):  # the shell script registers the executable, not `kubectl fluxgen`
        prog_name = os.path.basename(sys.argv[0])
    from fluxgen.errors import Interrupted

    def interrupt(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)  # the same clean end when a CI job is cancelled
    try:
        cli.main(prog_name=prog_name, complete_var=complete_var)
    except OSError as err:  # help or version text into a full disk: the commands' own output says so itself
        if err.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EBADF):
            raise
        click.echo(f"Error: cannot write to standard output: {err.strerror}", err=True)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except (Interrupted, KeyboardInterrupt) as err:
        click.echo("interrupted", err=True)
        sys.exit(128 + (err.args[0] if isinstance(err, Interrupted) and err.args else signal.SIGINT))
