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
