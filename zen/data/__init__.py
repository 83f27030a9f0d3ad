"""Loaders for real CDR sources and the train / validation / holdout split."""

import inspect

from zen.data.base import CDRData
from zen.data.copenhagen import load_copenhagen
from zen.data.generic import ColumnMapping, load_generic
from zen.data.rules import LoadReport
from zen.data.split import UserSplit, split_users

__all__ = ["CDRData", "ColumnMapping", "LoadReport", "UserSplit", "load_copenhagen", "load_generic",
           "split_users", "load_dataset"]

LOADERS = {"copenhagen": load_copenhagen, "generic": load_generic}


def load_dataset(name: str, **kwargs) -> CDRData:
    """Load a real source: the loader ``kwargs['kind']`` names (``copenhagen`` or ``generic``), else
    the loader called ``name``; the other kwargs (``data.loader.*``) go to the loader.

    A data config therefore works under any file name and ``name:`` as long as its loader says
    ``kind: generic``.
    """
    from zen.schema import ZenInputError

    kind = kwargs.pop("kind", None) or name
    if kind not in LOADERS:
        raise ZenInputError(f"unknown data source {kind!r}; set data.loader.kind to one of {sorted(LOADERS)} "
                            "(kind: generic reads your own files through a column mapping)")
    loader = LOADERS[kind]
    accepted = inspect.signature(loader).parameters
    for key in kwargs:
        if key not in accepted:
            raise ZenInputError(f"data.loader.{key}: unknown key for the {kind} loader; it takes "
                                f"{', '.join(k for k in accepted if k != 'kind')} (docs/own-data.md)")
    if kind == "generic" and name not in LOADERS:
        kwargs.setdefault("name", name)
    return loader(**kwargs)
