"""The one exception family fluxgen raises; cli.py turns it into a message and exit code 1."""


class FluxgenError(Exception):
    """Something the user can fix: printed without a traceback, exit code 1."""


class SpecError(FluxgenError):
    """The spec (or a file it names) is wrong; carries every problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class OutputError(FluxgenError):
    """The output folder cannot be written as asked (conflicts, escapes, permissions)."""


class ClusterError(FluxgenError):
    """The cluster could not be read (kubectl missing, unreachable, credentials, permissions)."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT). Not a KeyboardInterrupt, which click turns into "Aborted!" and exit 1:
    this one reaches cli.main, which says "interrupted" and exits 130, as shells expect."""
