"""The output folder's safety rules: resume, refuse, overwrite only Zen's files, forget a failed start."""

from __future__ import annotations

import logging

from zen.generation.layout import Layout
from zen.io.ownership import LOCK_PID
from zen.io.storage import Store
from zen.schema import ZenInputError

log = logging.getLogger("zen.generate")


def prepare_out_dir(layout: Layout, fingerprint: dict, overwrite: bool = False) -> None:
    """Refuse to overwrite a finished dataset; resume an unfinished one made by the same settings.

    ``overwrite=True`` removes only the files Zen wrote there (:meth:`Layout.zen_files`) and
    refuses when the folder holds anything else. A resumed run first sweeps the temporaries a
    kill left. Writes ``.work/config.json`` (the run's ``fingerprint``) last.
    """
    store, fp_file = layout.store, f"{layout.work}/config.json"
    finished = store.exists("manifest.json")
    if finished or store.exists(fp_file):
        same = not finished and store.read_json(fp_file, "the unfinished run's settings") == fingerprint
        if same:
            log.info("resuming the unfinished run in %s", store.name())
            store.delete(store.temporaries())
        elif not overwrite:
            what = "a finished dataset is" if finished else "an unfinished run with a different config is"
            raise ZenInputError(f"{what} already there; choose another out_dir= or pass overwrite=true",
                                store.name())
        else:
            owned = layout.zen_files()
            store.refuse_foreign(owned, "out_dir", "dataset files")
            store.remove(owned, keep_root=True)
    elif any(name != LOCK_PID for name in store.children()):
        raise ZenInputError("the output folder exists and is not a Zen run; choose another out_dir=",
                            store.name())
    store.write_json(fingerprint, fp_file)


def forget_unstarted(store: Store, created: bool, work: str = ".work") -> None:
    """After a failure, remove the folder this run created if no shard of it had finished."""
    if not created or not store.exists() or store.files(f"{work}/done"):
        return
    store.remove(store.files(work) + store.temporaries())
