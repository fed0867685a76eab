"""write_tree: the only code that writes files. All or nothing, never outside the folder.

fluxgen keeps `.fluxgen.sum` in the output folder (sha256sum format: `sha256sum -c` checks
it) with the hash of every file it wrote. A file whose bytes still match that hash is
fluxgen's to rewrite or remove; any other existing file (edited by hand, or never written by
fluxgen) is a conflict, left alone unless `force` is given.
"""

import contextlib
import hashlib
import os
import signal
from pathlib import Path, PurePosixPath

from fluxgen.errors import Interrupted, OutputError

RECORD = ".fluxgen.sum"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_record(outdir: Path) -> dict[str, str]:
    """{relative path: sha256} of the files fluxgen wrote last time."""
    try:
        text = (outdir / RECORD).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{outdir / RECORD}: cannot read: {err}") from err
    record = {}
    for line in text.splitlines():
        digest, _, path = line.partition("  ")
        if len(digest) == 64 and path:
            record[path] = digest
    return record


def _target(outdir: Path, real_outdir: Path, relative: str, inside: dict) -> Path:
    """The path `relative` names under `outdir`, refused if it (or a link on the way) leads out.
    `inside` remembers the folders already checked."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise OutputError(f"{relative}: would be written outside {outdir}")
    target = outdir.joinpath(*parts)
    if target.parent not in inside:
        parent = target.parent
        while not parent.exists() and parent != outdir:
            parent = parent.parent
        inside[target.parent] = parent.resolve().is_relative_to(real_outdir)
    if not inside[target.parent]:
        raise OutputError(f"{target}: a symbolic link leads out of {outdir}; refusing to write there")
    return target


def plan(outdir: Path, files: dict[str, str], force: bool, record: dict[str, str]) -> dict[str, list]:
    """What write_tree would do: {write, unchanged, remove, conflicts} lists of relative paths.

    `record` is what read_record found: the files fluxgen wrote last time and their hashes.
    """
    real_outdir = outdir.resolve()
    result: dict[str, list] = {"write": [], "unchanged": [], "remove": [], "conflicts": []}
    inside: dict[Path, bool] = {}
    for relative, text in files.items():
        target = _target(outdir, real_outdir, relative, inside)
        if target.is_symlink():  # never write through a link; with force, the link is replaced
            result["write" if force else "conflicts"].append(relative)
            continue
        if target.exists() and not target.is_file():
            raise OutputError(f"{target}: exists and is not a file")
        if not target.exists():
            result["write"].append(relative)
            continue
        current = _sha(target.read_bytes())
        if current == _sha(text.encode()):
            result["unchanged"].append(relative)
        elif record.get(relative) == current or force:
            result["write"].append(relative)
        else:
            result["conflicts"].append(relative)
    for relative, digest in record.items():
        target = outdir / relative
        if relative not in files and target.is_file() and not target.is_symlink() \
                and _sha(target.read_bytes()) == digest:
            result["remove"].append(relative)
    return result


def write_tree(outdir: Path, files: dict[str, str], force: bool = False) -> dict[str, list]:
    """Write `files` under `outdir` as planned, or nothing at all; return the plan carried out."""
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    previous = read_record(outdir)
    try:
        actions = plan(outdir, files, force, previous)
    except OSError as err:
        raise OutputError(f"{outdir}: cannot read: {err.strerror}") from err
    if actions["conflicts"]:
        listing = "\n".join(f"  {outdir / path}" for path in actions["conflicts"])
        raise OutputError(f"these files were edited by hand or not written by fluxgen; nothing was written "
                          f"(use --force to overwrite them):\n{listing}")
    record = {path: _sha(text.encode()) for path, text in files.items()}
    record_text = "".join(f"{digest}  {path}\n" for path, digest in sorted(record.items()))
    staged = {path: files[path] for path in actions["write"]}
    if actions["write"] or actions["remove"] or previous != record:
        staged[RECORD] = record_text
    _commit(outdir, staged, actions["remove"])
    return actions


def _commit(outdir: Path, staged: dict[str, str], remove: list[str]) -> None:
    created: list[Path] = []
    temps: dict[Path, str] = {}
    ready: set[Path] = set()  # folders known to exist
    try:
        for relative, text in staged.items():
            target = outdir / relative
            if target.parent not in ready:
                for parent in reversed([target.parent, *target.parent.parents]):
                    if parent not in ready and not parent.exists():
                        parent.mkdir()
                        created.append(parent)
                    ready.add(parent)
            temp = _temp_for(target)
            temps[temp] = relative  # before writing, so a failure cleans it up
            _stage(temp, text)
    except (OSError, KeyboardInterrupt, Interrupted) as err:
        for temp in temps:
            with contextlib.suppress(OSError):  # it may never have been created
                temp.unlink()
        for folder in reversed(created):
            folder.rmdir()
        if not isinstance(err, OSError):
            raise
        raise OutputError(f"{outdir}: cannot write: {err.strerror}: {err.filename}") from err
    with _no_interrupts():  # every file is staged: now switch them all, or Ctrl-C would leave half a tree
        for temp, relative in temps.items():
            os.replace(temp, outdir / relative)
        for relative in remove:
            (outdir / relative).unlink()


def replace_file(path: Path, text: str) -> None:
    """Write one file whole or not at all (a temporary file renamed over it), keeping its mode."""
    temp = _temp_for(path)
    try:
        _stage(temp, text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        with _no_interrupts():
            os.replace(temp, path)
    except (OSError, KeyboardInterrupt, Interrupted) as err:
        temp.unlink(missing_ok=True)
        if not isinstance(err, OSError):
            raise
        raise OutputError(f"{path}: cannot write: {err.strerror}") from err


def _temp_for(target: Path) -> Path:
    """Where `target` is staged: beside it, named for this process."""
    return target.parent / f".{target.name}.{os.getpid()}.tmp"


def _stage(temp: Path, text: str) -> None:
    temp.unlink(missing_ok=True)  # with this process's id it can only be left over from a killed run
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # files for Git: the umask's mode
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


@contextlib.contextmanager
def _no_interrupts():
    """Hold SIGINT and SIGTERM back (they arrive right after) while a few renames run."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
