"""The output folder's safety rules: resume, refuse, overwrite only Zen's files, forget a failed start."""

from __future__ import annotations

import logging
from pathlib import Path

from zen.generation.layout import Layout
from zen.io import write_json_atomic
from zen.io.model_files import read_json
from zen.io.ownership import LOCK_PID, refuse_foreign, remove_owned, temporaries
from zen.schema import ZenInputError

log = logging.getLogger("zen.generate")


def local_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a local path: a path as it is, a URI through ``pyarrow.fs`` (``file://...``).

    The run's lock, done-markers, temporaries and checksums need a filesystem with atomic
    renames, so a URI of another filesystem (``s3://``, ``gs://``, ``hdfs://``) is refused in
    one line: mount it (NFS, s3fs, gcsfuse) and pass the mount's path.
    """
    text = str(out_dir)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme:
        return Path(text)
    if scheme not in ("file", "local"):  # refused before pyarrow reaches for the network
        raise ZenInputError(f"out_dir is on {scheme}://, not a local filesystem; mount it (NFS, s3fs, "
                            "gcsfuse) and pass out_dir=<the mount's folder>", text)
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(text)
    except (ValueError, OSError) as err:
        raise ZenInputError(f"out_dir is not a URI pyarrow can open ({str(err).splitlines()[0]}); pass a "
                            "local folder or a file:// URI (spaces written %20)", text) from err
    if not isinstance(filesystem, fs.LocalFileSystem):
        raise ZenInputError(f"out_dir is on {filesystem.type_name}, not a local filesystem", text)
    return Path(path)


def prepare_out_dir(layout: Layout, fingerprint: dict, overwrite: bool = False) -> None:
    """Refuse to overwrite a finished dataset; resume an unfinished one made by the same settings.

    ``overwrite=True`` removes only the files Zen wrote there (:meth:`Layout.zen_files`) and
    refuses when the folder holds anything else. A resumed run first sweeps the temporaries a
    kill left. Writes ``.work/config.json`` (the run's ``fingerprint``) last.
    """
    out_dir, fp_file = layout.out, layout.work / "config.json"
    finished = (out_dir / "manifest.json").exists()
    if finished or fp_file.exists():
        same = not finished and read_json(fp_file, "the unfinished run's settings") == fingerprint
        if same:
            log.info("resuming the unfinished run in %s", out_dir)
            for tmp in temporaries(out_dir):
                tmp.unlink()
        elif not overwrite:
            what = "a finished dataset is" if finished else "an unfinished run with a different config is"
            raise ZenInputError(f"{what} already there; choose another out_dir= or pass overwrite=true",
                                str(out_dir))
        else:
            owned = layout.zen_files()
            refuse_foreign(out_dir, owned, "out_dir", "dataset files")
            remove_owned(out_dir, owned, keep_root=True)
    elif any(p.name != LOCK_PID for p in out_dir.iterdir()):
        raise ZenInputError("the output folder exists and is not a Zen run; choose another out_dir=",
                            str(out_dir))
    write_json_atomic(fingerprint, fp_file)


def forget_unstarted(out_dir: Path, created: bool) -> None:
    """After a failure, remove the folder this run created if no shard of it had finished."""
    work = out_dir / ".work"
    if not created or not out_dir.is_dir() or (work / "done").exists():
        return
    owned = ([p for p in work.rglob("*") if p.is_file()] if work.exists() else []) + temporaries(out_dir)
    remove_owned(out_dir, owned)
