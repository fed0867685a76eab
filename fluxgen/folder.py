"""The output folder, looked at without ever following a link: which paths are strictly inside
it, what stands at a path, reading its regular files, and writing a new file there.

writer.py and transaction.py build on this; nothing here changes an existing file.
"""

import contextlib
import hashlib
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from fluxgen import files
from fluxgen.errors import OutputError

RECORD = ".fluxgen.sum"  # the hashes of the files fluxgen wrote
STAGING = ".fluxgen.tmp"  # new files and the journal of a write under way
RESERVED = (RECORD, STAGING)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The names of the files fluxgen writes (Flux objects, charts, overlays): the only ones it ever
# removes or puts back, whatever a record or a journal in the folder says, so that a line added to
# .fluxgen.sum in a pull request cannot delete .git/HEAD or a colleague's notes.
_GENERATED = {"helmrepository.yaml", "ocirepository.yaml", "gitrepository.yaml", "helmrelease.yaml",
              "flux-kustomization.yaml", "kustomization.yaml", "namespace.yaml", "provider.yaml", "alert.yaml",
              "Chart.yaml", "values.yaml", ".helmignore", "_helpers.tpl", RECORD}
_GENERATED_IN = ("templates", "crds", "base")  # packaged objects: FOLDER/kind-name.yaml
_VCS = {".git", ".hg", ".svn", ".jj", ".bzr"}


def check_relative(relative: str) -> tuple[str, ...]:
    """The parts of a path strictly inside the folder, or OutputError."""
    path = PurePosixPath(relative)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("..", ".") for p in parts) or "\0" in relative \
            or relative != path.as_posix() or any(len(p.encode()) > 255 for p in parts) or len(relative) > 3000:
        raise OutputError(f"{relative}: would be written outside the output folder")
    return parts


def generated_name(relative: str) -> bool:
    """Whether a path inside the folder has the name of a file fluxgen writes (and lies in no
    version control folder such as .git)."""
    try:
        parts = check_relative(relative)
    except OutputError:
        return False
    if any(part in _VCS for part in parts[:-1]):  # never into .git: a hook there runs on the next commit
        return False
    return parts[-1] in _GENERATED or (len(parts) > 1 and parts[-2] in _GENERATED_IN and parts[-1].endswith(".yaml"))


def entry_kind(path: Path) -> str:
    """'missing', 'file', 'folder', 'link' or 'other', without following a link."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a file on the way: reported when the folder is checked
        return "missing"
    except (OSError, ValueError) as err:  # a name too long, a loop
        raise OutputError(f"{path}: {getattr(err, 'strerror', None) or err}") from err
    if stat.S_ISLNK(mode):
        return "link"
    return "file" if stat.S_ISREG(mode) else "folder" if stat.S_ISDIR(mode) else "other"


def obstacle(outdir: Path, parts: tuple[str, ...], checked: dict[Path, str]) -> str | None:
    """Why a file cannot go at `parts` (a link or a file stands where a folder should be), or None.
    Missing folders are fine: they will be created. `checked` remembers folders already seen."""
    folder = outdir
    for part in parts[:-1]:
        folder = folder / part
        if folder not in checked:
            checked[folder] = entry_kind(folder)
        kind = checked[folder]
        if kind == "missing":
            return None
        if kind == "link":
            return f"{folder} is a symbolic link; fluxgen never writes through a link (make it a real folder)"
        if kind != "folder":
            return f"{folder} is not a folder"
    return None


def read(path: Path, limit: int = files.MAX_BYTES) -> bytes:
    """The bytes of a regular file, never through a link and never from a FIFO or device."""
    try:
        return files.read_bytes(path, limit, follow_links=False)
    except files.Unreadable as err:
        raise OutputError(f"{path}: {err}") from err


def create(path: Path, text: str) -> None:
    """Write a new file (never an existing one, never through a link), with the umask's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (they arrive right after) while the moves run."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
