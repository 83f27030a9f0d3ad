"""Loaders for real CDR sources and the train / validation / holdout split."""

from zen.data.base import CDRData
from zen.data.copenhagen import load_copenhagen
from zen.data.generic import ColumnMapping, load_generic
from zen.data.split import UserSplit, split_users

__all__ = ["CDRData", "ColumnMapping", "UserSplit", "load_copenhagen", "load_generic",
           "split_users", "load_dataset"]


def load_dataset(name: str, **kwargs) -> CDRData:
    """Load a real source by name: ``copenhagen`` or ``generic`` (kwargs go to the loader)."""
    loaders = {"copenhagen": load_copenhagen, "generic": load_generic}
    if name not in loaders:
        from zen.schema import ZenInputError
        raise ZenInputError(f"unknown data source {name!r}; choose one of {sorted(loaders)}")
    return loaders[name](**kwargs)
