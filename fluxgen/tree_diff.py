"""`kubectl fluxgen diff`: what `render --output-dir` would change, as a unified diff. Writes
nothing: it plans the write as writer.py does (same record, same rules about hand edits and
links) and only reads the files the plan names.
"""

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from fluxgen.errors import OutputError
from fluxgen.folder import STAGING, entry_kind, read
from fluxgen.writer import check_layout, plan, read_record


@dataclass(frozen=True)
class Change:
    path: str  # relative to the output folder
    old: str | None  # None: the file is new
    new: str | None  # None: render would remove it


@dataclass(frozen=True)
class TreeDiff:
    changes: list[Change]
    hand_edited: list[str]  # files render refuses to overwrite without --force


def tree_diff(outdir: Path, files: dict[str, str]) -> TreeDiff:
    """The files `render --output-dir outdir` would create, change and remove."""
    check_layout(files)
    if outdir.is_symlink() and not outdir.exists():  # the folder itself may be a link, as render allows
        raise OutputError(f"{outdir}: is a symbolic link to a folder that does not exist")
    for folder in [*reversed(outdir.parents), outdir]:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: exists and is not a folder")
    if entry_kind(outdir / STAGING) != "missing":
        raise OutputError(f"{outdir / STAGING}: an earlier render --output-dir did not finish; run it again (it puts "
                          "the files back first), then diff")
    record, _ = read_record(outdir) if outdir.is_dir() else ({}, [])
    actions = plan(outdir, files, False, record)
    changes = []
    for relative in sorted(actions.write + actions.conflicts + actions.remove):
        target = outdir / relative
        kind = entry_kind(target)
        old = _text(target) if kind == "file" else f"(a symbolic link to {os.readlink(target)})\n" \
            if kind == "link" else None
        changes.append(Change(relative, old, files.get(relative)))
    return TreeDiff(changes, sorted(actions.conflicts))


def _text(path: Path) -> str:
    data = read(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary file, {len(data)} bytes)\n"


def unified(outdir: Path, change: Change) -> list[str]:
    """The lines of `diff -uN` for one file, labelled with its path in the output folder."""
    name = str(outdir / change.path)
    old = (change.old or "").splitlines(keepends=True)
    new = (change.new or "").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old, new, "/dev/null" if change.old is None else name,
                                      "/dev/null" if change.new is None else name))
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]
