"""Reading the user's files: regular files only, bounded in size, never a FIFO or a device.

Every file fluxgen reads goes through here (the spec, values files, manifests, the record in
the output folder), so `/dev/zero`, a FIFO or a 10 GB file ends in a message, not a hang.
"""

import errno
import os
import stat
import sys
from pathlib import Path

MAX_BYTES = 64 * 2**20  # far more than any spec, values file or manifest


class Unreadable(Exception):
    """The file cannot be read; the message says why, in a few words."""


def read_bytes(path: Path | str, limit: int = MAX_BYTES, follow_links: bool = True) -> bytes:
    """The bytes of a regular file (with follow_links=False, never through a symbolic link)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except ValueError as err:  # a NUL in the name
        raise Unreadable("the name holds a NUL character") from err
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_links:
            raise Unreadable("is a symbolic link") from err
        raise Unreadable(err.strerror or str(err)) from err
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Unreadable("is not a regular file (a folder, FIFO or device)")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as err:
            raise Unreadable(err.strerror or str(err)) from err
    if len(data) > limit:
        raise Unreadable(f"is larger than {limit // 2**20} MiB")
    return data


def read_stdin(limit: int = MAX_BYTES) -> bytes:
    """Standard input, at most `limit` bytes."""
    if sys.stdin is None:
        raise Unreadable("standard input is closed")
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as err:
        raise Unreadable(err.strerror or str(err)) from err
    if len(data) > limit:
        raise Unreadable(f"is larger than {limit // 2**20} MiB")
    return data


def inside(base: Path, relative: str) -> Path | None:
    """`base / relative`, resolved, if it (links followed) stays inside `base` (or is `base`); else None."""
    try:
        resolved = (base / relative).resolve()
        return resolved if resolved.is_relative_to(base.resolve()) else None
    except (OSError, ValueError, RuntimeError):  # a NUL, a link loop
        return None
