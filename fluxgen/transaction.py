"""A write into the output folder as a transaction: all of it, or none of it.

New files are staged in `.fluxgen.tmp/`, then a journal there lists every move, then the moves
run (each old file set aside first). A failure undoes the moves; a run that was killed half-way
is undone by the next one (recover), which finds the journal. The journal is repository content
like any other file, so it is trusted only as far as the files say: a file is moved back only
when its hash is the one the journal gives, and only inside the folder.
"""

import contextlib
import json
import os
import re
from pathlib import Path, PurePosixPath

from fluxgen.errors import Interrupted, OutputError
from fluxgen.folder import (
    RECORD,
    RESERVED,
    STAGING,
    check_relative,
    create,
    entry_kind,
    generated_name,
    no_interrupts,
    obstacle,
    read,
    sha,
)

JOURNAL = "journal"
MAX_JOURNAL = 16 * 2**20


def commit(outdir: Path, staged: dict[str, str], remove: list[str]) -> None:
    staging = outdir / STAGING
    try:
        staging.mkdir()
    except OSError as err:
        raise OutputError(f"{staging}: cannot create: {err.strerror}") from err
    journal: dict[str, list] = {"ops": [], "folders": []}
    try:
        folders: set[str] = set()
        for number, (relative, text) in enumerate(staged.items()):
            create(staging / f"n{number}", text)
            target = outdir / relative
            old = sha(read(target)) if entry_kind(target) == "file" else None  # a link --force replaces is not kept
            journal["ops"].append({"op": "write", "path": relative, "new": f"n{number}", "backup": f"b{number}",
                                   "sha": sha(text.encode()), "old": old})
            for parent in reversed(PurePosixPath(relative).parents[:-1]):
                if str(parent) not in folders and entry_kind(outdir / parent) == "missing":
                    journal["folders"].append(str(parent))
                folders.add(str(parent))
        for number, relative in enumerate(remove, len(staged)):
            old = sha(read(outdir / relative))
            journal["ops"].append({"op": "remove", "path": relative, "backup": f"b{number}", "old": old})
        create(staging / f"{JOURNAL}.new", json.dumps(journal))
    except (OSError, OutputError, Interrupted, KeyboardInterrupt) as err:
        _clean_staging(staging)
        if isinstance(err, OSError):
            raise OutputError(f"{outdir}: cannot write: {err.strerror}") from err
        raise
    with no_interrupts():  # a signal now waits until the tree stands and the staging folder is gone
        try:
            os.replace(staging / f"{JOURNAL}.new", staging / JOURNAL)  # from here on, a killed run is undone
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


def recover(outdir: Path) -> int:
    """Undo a transaction a killed run left behind, or clean up its staged files; return how many
    files were put back. Trusts the journal only as far as the files say: only files with the
    names fluxgen writes, each moved back only when its hash is the one the journal gives."""
    staging = outdir / STAGING
    kind = entry_kind(staging)
    if kind == "missing":
        return 0
    if kind != "folder":
        raise OutputError(f"{staging}: is not a folder fluxgen made; remove it")
    journal = _read_journal(staging)
    restored = 0
    try:
        for op in reversed(journal.get("ops", [])):
            with contextlib.suppress(OSError, OutputError, ValueError, KeyError, TypeError, AttributeError):
                restored += _undo(outdir, staging, op)  # an entry fluxgen could not have written is ignored
        for folder in reversed(journal.get("folders", [])):
            with contextlib.suppress(OSError, OutputError, TypeError):
                parts = check_relative(folder)
                if not obstacle(outdir, (*parts, "-"), {}) and entry_kind(outdir.joinpath(*parts)) == "folder":
                    outdir.joinpath(*parts).rmdir()  # only when empty
        with contextlib.suppress(FileNotFoundError):
            (staging / JOURNAL).unlink()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise OutputError(f"{staging}: cannot undo the interrupted write: {err}") from err
    _clean_staging(staging)
    return restored


def _read_journal(staging: Path) -> dict:
    if entry_kind(staging / JOURNAL) != "file":
        return {}
    try:
        journal = json.loads(read(staging / JOURNAL, MAX_JOURNAL))
    except (OSError, ValueError, RecursionError) as err:
        raise OutputError(f"{staging / JOURNAL}: cannot read: {err}; remove {staging} by hand") from err
    return journal if isinstance(journal, dict) else {}


def _undo(outdir: Path, staging: Path, op: dict) -> int:
    """Put back what one move changed; 1 when a file was moved back or removed."""
    parts = check_relative(op["path"])
    if not generated_name(op["path"]) or parts[0] in RESERVED and op["path"] != RECORD or obstacle(outdir, parts, {}):
        return 0
    target = outdir.joinpath(*parts)
    backup = staging / _staged_name(op["backup"], "b")
    backup_ok = entry_kind(backup) == "file" and op.get("old") is not None and sha(read(backup)) == op["old"]
    placed = op["op"] == "write" and entry_kind(staging / _staged_name(op["new"], "n")) == "missing" and \
        entry_kind(target) == "file" and sha(read(target)) == op.get("sha")
    if backup_ok and (placed or entry_kind(target) == "missing"):
        os.chmod(backup, 0o666 & ~_umask())  # a file for Git: never executable, whatever the staged copy says
        os.replace(backup, target)
        return 1
    if placed and op.get("old") is None:
        target.unlink()
        return 1
    return 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


