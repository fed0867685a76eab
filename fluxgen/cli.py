"""The command line: parse flags, call the pipeline, print or write. The only place that exits.

The same program answers as `kubectl fluxgen`, `flux fluxgen` and `python -m fluxgen`; help
text names whichever the user typed.
"""

import os
import re
import signal
import sys
from pathlib import Path

import click

from fluxgen import __version__
from fluxgen.errors import FluxgenError, SpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SPEC_FILE = "fluxgen.yaml"


def _prog_name() -> str:
    """`kubectl fluxgen` or `flux fluxgen`, as krew's guide asks plugins to say in their usage."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "flux fluxgen" if base.startswith("flux-") else "kubectl fluxgen"


class _Group(click.Group):
    """Turns fluxgen's own errors into a message and exit code 1; anything else is a bug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpecError as err:
            for problem in err.problems:
                click.echo(problem, err=True)
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
    """


@cli.command(context_settings=CONTEXT)
@_file_option
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Format of standard output.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write files into DIR (one folder per app) instead of printing.")
@click.option("--force", is_flag=True, help="With --output-dir: overwrite files edited by hand or not written "
                                            "by fluxgen.")
@click.option("--reuse-existing", is_flag=True,
              help="Ask the current cluster (read-only, through kubectl) for its Flux sources and reference the "
                   "matching ones instead of generating them.")
@click.option("--context", metavar="NAME", help="With --reuse-existing: the kubeconfig context to use.")
@click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False),
              help="With --reuse-existing: the kubeconfig file to use.")
@click.option("--request-timeout", metavar="DURATION",
              help="With --reuse-existing: how long to wait for the cluster (e.g. 10s, 1m; 0 waits forever).")
def render(spec_file, output, output_dir, force, reuse_existing, context, kubeconfig, request_timeout):
    """Print (or write) the Flux objects for a spec.

    \b
    Sources come first, in order of first use, then the HelmReleases and Kustomizations
    in spec order. The same spec always gives the same bytes.
    """
    from fluxgen import output as out
    from fluxgen.pipeline import render as build

    if force and output_dir is None:
        raise click.UsageError("--force only applies with --output-dir")
    if output == "json" and output_dir is not None:
        raise click.UsageError("--output-dir writes YAML files; -o json only applies to standard output")
    cluster = {"context": context, "kubeconfig": kubeconfig, "request_timeout": request_timeout}
    given = [f"--{flag.replace('_', '-')}" for flag, value in cluster.items() if value]
    if given and not reuse_existing:
        raise click.UsageError(f"{', '.join(given)} only applies with --reuse-existing")
    if request_timeout and not re.fullmatch(r"0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+", request_timeout):
        raise click.UsageError(f"--request-timeout {request_timeout!r}: use a duration such as 10s, 1m or 0")
    result = build(spec_file, cluster if reuse_existing else None)
    for line in [f"warning: {warning}" for warning in result["warnings"]] + result["notes"]:
        click.echo(line, err=True)
    if output_dir is None:
        docs = [doc for _, doc in result["resources"]]
        click.echo(out.dump_json(docs) if output == "json" else out.dump_all(docs), nl=False)
        for name, package in result["packages"].items():
            click.echo(f"not written: the package of {name} ({len(package['files'])} files for "
                       f"{package['folder']}/); use --output-dir to write it", err=True)
        return
    from fluxgen.writer import write_tree

    files = out.files_for(result["resources"])
    for package in result["packages"].values():
        files.update(package["files"])
    done = write_tree(output_dir, files, force=force)
    for path in done["remove"]:
        click.echo(f"removed {output_dir / path} (no longer generated)", err=True)
    click.echo(f"wrote {len(done['write'])} file(s) to {output_dir}, {len(done['unchanged'])} unchanged", err=True)


@cli.command(context_settings=CONTEXT)
@_file_option
def validate(spec_file):
    """Check a spec without printing any objects; exit code 1 lists every problem."""
    from fluxgen.pipeline import render as build

    result = build(spec_file)
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    name = "<stdin>" if spec_file == "-" else spec_file
    packaged = sum(len(package["files"]) for package in result["packages"].values())
    click.echo(f"{name}: valid ({len(result['resources'])} Flux objects"
               + (f", {packaged} packaged files" if packaged else "") + ")")


@cli.command(context_settings=CONTEXT)
def version():
    """Print the fluxgen version."""
    click.echo(f"fluxgen: v{__version__}")


def main() -> None:
    """Entry point of kubectl-fluxgen, flux-fluxgen and `python -m fluxgen`."""
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
    try:
        cli.main(prog_name=prog_name, complete_var=complete_var)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
