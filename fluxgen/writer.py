"""write_tree: the only code that writes into the output folder. All or nothing, only inside it.

The rules:
- fluxgen reads, writes and removes only regular files strictly inside the folder, never
  through a symbolic link (every folder on the way is checked), and trusts nothing in its
  record that points elsewhere.
- `.fluxgen.sum` (sha256sum format: `sha256sum -c` checks it) holds the hash of every file
  fluxgen wrote. A file whose bytes still match it is fluxgen's to rewrite or remove; any other
  existing file (edited by hand, or never written by fluxgen) is a conflict, left alone unless
  `force` is given.
- A write is a transaction. New files are staged in `.fluxgen.tmp/`, then a journal there lists
  every move, then the moves run (each old file set aside first). A failure undoes the moves;
  a run that was killed half-way is undone by the next one, which finds the journal. A lock
  on the folder keeps two runs apart.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import signal
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fluxgen.errors import Interrupted, OutputError

RECORD = ".fluxgen.sum"
STAGING = ".fluxgen.tmp"
RESERVED = (RECORD, STAGING)
JOURNAL = "journal"
MAX_RECORD = 16 * 2**20  # a record this large was not written by fluxgen


@dataclass(frozen=True)
class Plan:
    """What write_tree does: relative paths to write, to leave, to remove, and that conflict."""

    write: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # record lines that point outside the folder


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_relative(relative: str) -> tuple[str, ...]:
    """The parts of a path strictly inside the folder, or OutputError."""
    path = PurePosixPath(relative)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("..", ".") for p in parts) or "\0" in relative \
            or relative != path.as_posix():
        raise OutputError(f"{relative}: would be written outside the output folder")
    return parts


def _kind(path: Path) -> str:
    """'missing', 'file', 'folder', 'link' or 'other', without following a link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "missing"  # a file on the way: reported when the folder is checked
    if stat.S_ISLNK(mode):
        return "link"
    return "file" if stat.S_ISREG(mode) else "folder" if stat.S_ISDIR(mode) else "other"


def _blocked(outdir: Path, parts: tuple[str, ...], checked: dict[Path, str]) -> str | None:
    """Why a file cannot go at `parts` (a link or a file stands where a folder should be), or None.
    Missing folders are fine: they will be created. `checked` remembers folders already seen."""
    folder = outdir
    for part in parts[:-1]:
        folder = folder / part
        if folder not in checked:
            checked[folder] = _kind(folder)
        kind = checked[folder]
        if kind == "missing":
            return None
        if kind == "link":
            return f"{folder} is a symbolic link; fluxgen never writes through a link (make it a real folder)"
        if kind != "folder":
            return f"{folder} is not a folder"
    return None


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, never through a link and never from a FIFO or device."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OutputError(f"{path}: is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1 if limit else -1)
    finally:
        os.close(fd)
    if limit and len(data) > limit:
        raise OutputError(f"{path}: is larger than {limit // 2**20} MiB, so fluxgen did not write it")
    return data


def read_record(outdir: Path) -> tuple[dict[str, str], list[str]]:
    """({relative path: sha256} of the files fluxgen wrote last time, lines it ignored)."""
    path = outdir / RECORD
    kind = _kind(path)
    if kind == "missing":
        return {}, []
    if kind != "file":
        raise OutputError(f"{path}: is not a regular file; fluxgen keeps its record there (remove it)")
    try:
        text = _read_regular(path, MAX_RECORD).decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from err
    record, ignored = {}, []
    for line in text.splitlines():
        digest, _, relative = line.partition("  ")
        try:
            parts = check_relative(relative)
        except OutputError:
            parts = ()
        if re.fullmatch(r"[0-9a-f]{64}", digest) and parts and parts[0] not in RESERVED:
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
        blocked = _blocked(outdir, parts, checked)
        if blocked:
            raise OutputError(f"{outdir / relative}: cannot be written: {blocked}")
        target = outdir.joinpath(*parts)
        kind = _kind(target)
        if kind == "missing":
            result.write.append(relative)
        elif kind == "link":  # never written through; with force, the link itself is replaced
            (result.write if force else result.conflicts).append(relative)
        elif kind != "file":
            raise OutputError(f"{target}: exists and is not a file")
        else:
            current = sha(_read_regular(target))
            if current == sha(text.encode()):
                result.unchanged.append(relative)
            elif record.get(relative) == current or force:
                result.write.append(relative)
            else:
                result.conflicts.append(relative)
    for relative, digest in record.items():
        target = outdir.joinpath(*check_relative(relative))
        if relative in files or _blocked(outdir, check_relative(relative), checked):
            continue
        if _kind(target) == "file" and sha(_read_regular(target)) == digest:
            result.remove.append(relative)
    return result


def write_tree(outdir: Path, files: dict[str, str], force: bool = False) -> Plan:
    """Write `files` ({relative path: text}) under `outdir` as planned, or change nothing."""
    check_layout(files)
    created = _make_folder(outdir)
    try:
        with _locked(outdir):
            recover(outdir)
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
                _transaction(outdir, staged, actions.remove)
    except BaseException:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return Plan(actions.write, actions.unchanged, actions.remove, [], ignored)


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
    """Create the output folder (and missing parents); the folders created, outermost first."""
    missing = [p for p in [outdir, *outdir.parents] if not p.exists()][::-1]
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    created = []
    try:
        for folder in missing:
            folder.mkdir()
            created.append(folder)
    except OSError as err:
        for folder in reversed(created):
            folder.rmdir()
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


# ---- the transaction -----------------------------------------------------------------------------

def _transaction(outdir: Path, staged: dict[str, str], remove: list[str]) -> None:
    staging = outdir / STAGING
    try:
        staging.mkdir()
    except OSError as err:
        raise OutputError(f"{staging}: cannot create: {err.strerror}") from err
    journal: dict[str, list] = {"ops": [], "folders": []}
    try:
        folders: set[str] = set()
        for number, (relative, text) in enumerate(staged.items()):
            _stage(staging / f"n{number}", text)
            target = outdir / relative
            kind = _kind(target)
            old = sha(_read_regular(target)) if kind == "file" else "link" if kind == "link" else None
            journal["ops"].append({"op": "write", "path": relative, "new": f"n{number}", "backup": f"b{number}",
                                   "sha": sha(text.encode()), "old": old})
            for parent in reversed(PurePosixPath(relative).parents[:-1]):
                if str(parent) not in folders and _kind(outdir / parent) == "missing":
                    journal["folders"].append(str(parent))
                folders.add(str(parent))
        for number, relative in enumerate(remove, len(staged)):
            old = sha(_read_regular(outdir / relative))
            journal["ops"].append({"op": "remove", "path": relative, "backup": f"b{number}", "old": old})
        _stage(staging / f"{JOURNAL}.new", json.dumps(journal))
        os.replace(staging / f"{JOURNAL}.new", staging / JOURNAL)  # from here on, a killed run is undone
    except (OSError, OutputError, Interrupted, KeyboardInterrupt) as err:
        _clean_staging(staging)
        if isinstance(err, OSError):
            raise OutputError(f"{outdir}: cannot write: {err.strerror}") from err
        raise
    with _no_interrupts():
        try:
            _apply(outdir, journal)
        except OSError as err:
            _undo_and_explain(outdir, err)
        (staging / JOURNAL).unlink()  # done: the new tree stands
    _clean_staging(staging)
    for relative in remove:
        _remove_empty_folders(outdir, PurePosixPath(relative).parent)


def _apply(outdir: Path, journal: dict) -> None:
    staging = outdir / STAGING
    for folder in journal["folders"]:
        (outdir / folder).mkdir()
    for op in journal["ops"]:
        target = outdir / op["path"]
        if op["op"] == "remove" or op["old"] is not None:
            os.rename(target, staging / op["backup"])  # set aside: the undo puts it back
        if op["op"] == "write":
            os.rename(staging / op["new"], target)


def _undo_and_explain(outdir: Path, err: OSError) -> None:
    what = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    try:
        recover(outdir)
    except OutputError as undo:
        raise OutputError(f"{outdir}: cannot write ({what}), and could not put back the files already moved "
                          f"({undo}); the next render will finish putting them back") from err
    raise OutputError(f"{outdir}: cannot write ({what}); nothing was changed") from err


def recover(outdir: Path) -> None:
    """Undo a transaction a killed run left behind, or clean up its staged files. Trusts the
    journal only as far as the files say: a file is moved back only when its hash matches."""
    staging = outdir / STAGING
    kind = _kind(staging)
    if kind == "missing":
        return
    if kind != "folder":
        raise OutputError(f"{staging}: is not a folder fluxgen made; remove it")
    journal = _read_journal(staging)
    try:
        for op in reversed(journal.get("ops", [])):
            with contextlib.suppress(OutputError, ValueError, KeyError, TypeError, AttributeError):
                _undo(outdir, staging, op)  # an entry fluxgen could not have written is ignored
        for folder in reversed(journal.get("folders", [])):
            with contextlib.suppress(OSError, OutputError, TypeError):
                parts = check_relative(folder)
                if not _blocked(outdir, (*parts, "-"), {}) and _kind(outdir.joinpath(*parts)) == "folder":
                    outdir.joinpath(*parts).rmdir()  # only when empty
        with contextlib.suppress(FileNotFoundError):
            (staging / JOURNAL).unlink()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise OutputError(f"{staging}: cannot undo the interrupted write: {err}") from err
    _clean_staging(staging)


def _read_journal(staging: Path) -> dict:
    if _kind(staging / JOURNAL) != "file":
        return {}
    try:
        journal = json.loads(_read_regular(staging / JOURNAL, MAX_RECORD))
    except (OSError, ValueError) as err:
        raise OutputError(f"{staging / JOURNAL}: cannot read: {err}; remove {staging} by hand") from err
    return journal if isinstance(journal, dict) else {}


def _undo(outdir: Path, staging: Path, op: dict) -> None:
    parts = check_relative(op["path"])
    if parts[0] in RESERVED and op["path"] != RECORD or _blocked(outdir, parts, {}):
        return
    target = outdir.joinpath(*parts)
    backup = staging / _staged_name(op["backup"], "b")
    if op.get("old") == "link":  # a link that --force replaced
        backup_ok = _kind(backup) == "link"
    else:
        backup_ok = _kind(backup) == "file" and op.get("old") is not None and sha(_read_regular(backup)) == op["old"]
    placed = op["op"] == "write" and _kind(staging / _staged_name(op["new"], "n")) == "missing" and \
        _kind(target) == "file" and sha(_read_regular(target)) == op.get("sha")
    if backup_ok and (placed or _kind(target) == "missing"):
        os.replace(backup, target)
    elif placed and op.get("old") is None:
        target.unlink()


def _staged_name(name: str, prefix: str) -> str:
    if not re.fullmatch(rf"{prefix}[0-9]+", str(name)):
        raise ValueError(f"unexpected name {name!r} in the journal")
    return name


def _clean_staging(staging: Path) -> None:
    """Remove the staging folder: only the files fluxgen puts there, never through a link."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(staging):
            if re.fullmatch(rf"[nb][0-9]+|{JOURNAL}(\.new)?", entry.name) and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
    try:
        staging.rmdir()
    except FileNotFoundError:
        pass
    except OSError as err:
        raise OutputError(f"{staging}: holds files fluxgen did not put there; remove it by hand") from err


def _remove_empty_folders(outdir: Path, folder: PurePosixPath) -> None:
    """Remove folders that removing stale files left empty, up to (not including) the output folder."""
    while folder.parts:
        with contextlib.suppress(OSError):
            (outdir / folder).rmdir()
            folder = folder.parent
            continue
        return


def _stage(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)  # the umask's mode, for Git
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def replace_file(path: Path, text: str) -> None:
    """Write one file whole or not at all (a temporary file renamed over it), keeping its mode;
    a link is followed, so the file it points to is edited, as editors do."""
    path = path.resolve() if path.is_symlink() else path
    temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        temp.unlink(missing_ok=True)  # with this process's id it can only be left over from a killed run
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


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
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
