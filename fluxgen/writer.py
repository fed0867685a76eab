"""write_tree: the only code that writes into the output folder. All or nothing, only inside it.

The rules:
- fluxgen reads, writes and removes only regular files strictly inside the folder, never
  through a symbolic link (every folder on the way is checked), and trusts nothing in its
  record that points elsewhere (folder.py).
- `.fluxgen.sum` (sha256sum format: `sha256sum -c` checks it) holds the hash of every file
  fluxgen wrote. A file whose bytes still match it is fluxgen's to rewrite or remove; any other
  existing file (edited by hand, or never written by fluxgen) is a conflict, left alone unless
  `force` is given.
- A write is a transaction (transaction.py), and a lock on the folder keeps two runs apart.
"""

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fluxgen import transaction
from fluxgen.errors import Interrupted, OutputError
from fluxgen.folder import (
    RECORD,
    RESERVED,
    check_relative,
    create,
    entry_kind,
    generated_name,
    no_interrupts,
    obstacle,
    read,
    sha,
)

MAX_RECORD = 16 * 2**20  # a record this large was not written by fluxgen


@dataclass(frozen=True)
class Plan:
    """What write_tree does: relative paths to write, to leave, to remove, and that conflict."""

    write: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # record lines that name no file fluxgen writes
    restored: int = 0  # files of an interrupted write put back before this one


def read_record(outdir: Path) -> tuple[dict[str, str], list[str]]:
    """({relative path: sha256} of the files fluxgen wrote last time, lines it ignored)."""
    path = outdir / RECORD
    kind = entry_kind(path)
    if kind == "missing":
        return {}, []
    if kind != "file":
        raise OutputError(f"{path}: is not a regular file; fluxgen keeps its record there (remove it)")
    try:
        text = read(path, MAX_RECORD).decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from err
    record, ignored = {}, []
    for line in text.split("\n"):  # as sha256sum reads it: a name may hold other line breaks
        digest, _, relative = line.removesuffix("\r").partition("  ")
        if re.fullmatch(r"[0-9a-f]{64}", digest) and generated_name(relative) and relative != RECORD:
            record[relative] = digest
        elif line.strip():
            ignored.append(line)
    return record, ignored


def plan(outdir: Path, files: dict[str, str], force: bool, record: dict[str, str]) -> Plan:
    """What writing `files` would do; `record` is what read_record found."""
    result = Plan()
    checked: dict[Path, str] = {}
    for relative, text in files.items():
        parts = check_relative(relative)
        blocked = obstacle(outdir, parts, checked)
        if blocked:
            raise OutputError(f"{outdir / relative}: cannot be written: {blocked}")
        target = outdir.joinpath(*parts)
        kind = entry_kind(target)
        if kind == "missing":
            result.write.append(relative)
        elif kind == "link":  # never written through; with force, the link itself is replaced
            (result.write if force else result.conflicts).append(relative)
        elif kind != "file":
            raise OutputError(f"{target}: exists and is not a file")
        else:
            current = sha(read(target))
            if current == sha(text.encode()):
                result.unchanged.append(relative)
            elif record.get(relative) == current or force:
                result.write.append(relative)
            else:
                result.conflicts.append(relative)
    for relative, digest in record.items():
        target = outdir.joinpath(*check_relative(relative))
        if relative in files or obstacle(outdir, check_relative(relative), checked):
            continue
        if entry_kind(target) == "file" and sha(read(target)) == digest:
            result.remove.append(relative)
    return result


def write_tree(outdir: Path, files: dict[str, str], force: bool = False) -> Plan:
    """Write `files` ({relative path: text}) under `outdir` as planned, or change nothing."""
    check_layout(files)
    created = _make_folder(outdir)
    with _locked(outdir):  # a run that cannot lock leaves the folders alone: another run holds them
        try:
            restored = transaction.recover(outdir)
            record, ignored = read_record(outdir)
            actions = plan(outdir, files, force, record)
            if actions.conflicts:
                listing = "\n".join(f"  {outdir / path}" for path in actions.conflicts)
                raise OutputError(f"these files were edited by hand or not written by fluxgen; nothing was "
                                  f"written (use --force to overwrite them):\n{listing}")
            wanted = {path: sha(text.encode()) for path, text in sorted(files.items())}
            staged = {path: files[path] for path in actions.write}
            if record != wanted or ignored:
                staged[RECORD] = "".join(f"{digest}  {path}\n" for path, digest in wanted.items())
            if staged or actions.remove:
                transaction.commit(outdir, staged, actions.remove)
        except BaseException:
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when still empty
            raise
    return Plan(actions.write, actions.unchanged, actions.remove, [], ignored, restored)


def check_layout(files: dict[str, str]) -> None:
    """Every path strictly inside the folder, none of fluxgen's own names, no path both a file and
    a folder."""
    folders = {str(parent) for relative in files for parent in PurePosixPath(relative).parents[:-1]}
    for relative in files:
        first = check_relative(relative)[0]
        if first in RESERVED:
            raise OutputError(f"{relative}: fluxgen keeps its own {first} there; give the app another path")
        if relative in folders:
            inside = next(other for other in files if other.startswith(relative + "/"))
            raise OutputError(f"{relative} would be both a file and the folder of {inside}; give one app another "
                              "path")


def _make_folder(outdir: Path) -> list[Path]:
    """Create the output folder (and missing parents, as mkdir -p does); the folders this run
    created, outermost first."""
    if outdir.is_symlink() and not outdir.exists():
        raise OutputError(f"{outdir}: is a symbolic link to a folder that does not exist")
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    created = []
    for folder in [*reversed(outdir.parents), outdir]:
        try:
            folder.mkdir()
            created.append(folder)
        except FileExistsError:
            if not folder.is_dir():
                raise OutputError(f"{folder}: exists and is not a folder") from None
        except OSError as err:
            for made in reversed(created):
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise OutputError(f"{outdir}: cannot write: {err.strerror}") from err
    return created


@contextlib.contextmanager
def _locked(outdir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder (flock: released by the kernel if the process dies)."""
    try:
        import fcntl
    except ImportError:  # no flock on this system: one writer is the user's to ensure
        yield
        return
    fd = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise OutputError(f"{outdir}: another fluxgen is writing this folder; run again when it ends") from err
            raise
        yield
    finally:
        os.close(fd)


def replace_file(path: Path, text: str) -> None:
    """Write one file whole or not at all (a temporary file renamed over it), keeping its mode;
    a link is followed, so the file it points to is edited, as editors do."""
    path = path.resolve() if path.is_symlink() else path
    temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        temp.unlink(missing_ok=True)  # with this process's id it can only be left over from a killed run
        create(temp, text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        with no_interrupts():
            os.replace(temp, path)
    except (OSError, KeyboardInterrupt, Interrupted) as err:
        temp.unlink(missing_ok=True)
        if not isinstance(err, OSError):
            raise
        raise OutputError(f"{path}: cannot write: {err.strerror}") from err


