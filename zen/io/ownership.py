"""Output folders Zen may replace, and only the files in them that Zen wrote.

Zen never deletes what it did not write. A folder Zen writes into carries a list of its own
files (a dataset's ``manifest.json`` checksums, a report's ``.zen-report.json``); replacing it
removes exactly those files and the folders they leave empty. Anything else in the folder — a
user's notes, a figure they saved there — makes Zen refuse with one line before it removes
anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from zen.schema import ZenInputError

# the temporary names of zen.io.tables.atomic_path (".<name>.<random>.tmp") and of folders built
# beside their target (".<name>.<random>")
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
LOCK_PID = ".zen.pid"  # the pid of the process holding a folder's lock (see exclusive)


def check_out_dir(path: str | Path, key: str = "out_dir") -> Path:
    """``path`` resolved; one line when it is an existing file rather than a folder."""
    path = Path(path).resolve()
    if path.exists() and not path.is_dir():
        raise ZenInputError(f"{key} is a file, not a folder; pass {key}=<a new or Zen-written folder>",
                            str(path))
    return path


def foreign_files(root: Path, owned: Iterable[Path]) -> list[Path]:
    """Files under ``root`` that are not in ``owned`` (sorted)."""
    mine = {Path(p).resolve() for p in owned}
    return sorted(p for p in root.rglob("*") if not p.is_dir() and p.resolve() not in mine)


def refuse_foreign(root: Path, owned: Iterable[Path], key: str, what: str) -> None:
    """One line naming a file under ``root`` that Zen did not write, if there is one."""
    foreign = foreign_files(root, owned)
    if foreign:
        example = foreign[0].relative_to(root)
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise ZenInputError(f"{key} holds files Zen did not write ('{example}'{more}); Zen replaces "
                            f"only its own {what}: move them, or choose another {key}=", str(root))


def remove_owned(root: Path, owned: Iterable[Path], keep_root: bool = False) -> None:
    """Delete the files ``owned`` under ``root``, then every folder left empty (``root`` too,
    unless ``keep_root``).

    Never deletes a file outside ``owned``: a folder that still holds one stays.
    """
    for p in owned:
        p = Path(p)
        if p.is_file() or p.is_symlink():
            p.unlink()
    folders = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for folder in folders if keep_root else [*folders, root]:
        with contextlib.suppress(OSError):
            folder.rmdir()


def temporaries(root: Path) -> list[Path]:
    """Temporary files that a killed atomic write left under ``root``."""
    return sorted(p for p in root.rglob(".*.tmp") if p.is_file() and TEMPORARY.match(p.name))


@contextlib.contextmanager
def exclusive(folder: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the folder itself) for the block.

    A second process asking for the same folder gets one line naming the holder's pid instead of
    writing into a run in progress. The lock goes with the process, also when it is killed.
    """
    fd = os.open(folder, os.O_RDONLY)
    pid_file = folder / LOCK_PID
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = pid_file.read_text().strip() if pid_file.exists() else "unknown"
            raise ZenInputError(f"another {what} (pid {holder}) is writing this folder; wait for it to "
                                "finish, or choose another out_dir=", str(folder)) from err
        pid_file.write_text(f"{os.getpid()}\n")
        try:
            yield
        finally:
            pid_file.unlink(missing_ok=True)
    finally:
        os.close(fd)
