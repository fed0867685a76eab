"""The one exception family fluxgen raises, and Problem, the record of one thing wrong in a file.

cli.py turns a FluxgenError into a message and exit code 1, and is the only place that formats
a Problem as text.
"""

from typing import NamedTuple


class Problem(NamedTuple):
    """One thing wrong (or worth a warning) at a place in a file; sorted by file, then line."""

    file: str
    line: int  # 0 when the place has no line (a whole file, a path on the command line)
    path: str  # the field, such as apps[1].chart.version; "" for the file or document as a whole
    message: str


class FluxgenError(Exception):
    """Something the user can fix: printed without a traceback, exit code 1."""


class SpecError(FluxgenError):
    """The spec (or a file it names) is wrong; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(p.message for p in self.problems))


class OutputError(FluxgenError):
    """The output folder cannot be written as asked (conflicts, escapes, permissions)."""


class ClusterError(FluxgenError):
    """The cluster could not be read (kubectl missing, unreachable, credentials, permissions)."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM. Not a KeyboardInterrupt, which click turns into "Aborted!" and
    exit 1: this one reaches cli.main, which says "interrupted" and exits 130, as shells expect."""
