"""Reading the files of a model folder as data only: tensors through ``weights_only``, JSON for
everything else.

Model folders are meant to be downloaded and shared, so nothing in them may run code when Zen
loads it: a PyTorch checkpoint is a pickle, and ``torch.load(weights_only=False)`` would execute
whatever a crafted one carries. Every checkpoint Zen reads goes through :func:`load_tensors`.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import torch

from zen.io.tables import atomic_path
from zen.schema import ZenInputError


def save_tensors(state: dict, path: str | Path) -> Path:
    """Write a checkpoint atomically (temporary file, then rename) and return its path.

    The checkpoint is serialised in memory and written with a plain file write, so a full disk is
    an ``OSError`` (ENOSPC) naming the file, which the CLIs tell in one line; ``torch.save`` on a
    file raises an opaque ``RuntimeError`` from its zip writer instead. Checkpoints are small
    (the traffic LSTM with its optimizer state is a few MB).
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getbuffer())
    return Path(path)


def load_tensors(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint that may hold only tensors and plain containers of numbers and strings.

    Raises:
        ZenInputError: the file is missing, truncated, not a PyTorch checkpoint, or carries
            anything else (a pickled object, code): it is refused without running it.
    """
    path = Path(path)
    if not path.is_file():
        raise ZenInputError("checkpoint not found; retrain with zen-train", str(path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ZenInputError("the checkpoint holds objects other than tensors (possibly code); refused "
                            "without loading it. Use a model folder written by zen-train", str(path)) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise ZenInputError("the checkpoint is truncated or not a PyTorch checkpoint; copy the model "
                            "folder again or retrain", str(path)) from err
    if not isinstance(state, dict):
        raise ZenInputError("the checkpoint is not a dictionary of tensors; use a model folder written "
                            "by zen-train", str(path))
    return state


def read_json(path: str | Path, what: str = "file") -> dict:
    """Read a JSON object written by Zen (``model.json``, ``manifest.json``, ...).

    Raises:
        ZenInputError: the file is missing, not valid JSON (with its line), or not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise ZenInputError(f"{what} not found", str(path))
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ZenInputError(f"{what} is not valid JSON ({err.msg}); copy it again or rerun the stage that "
                            "wrote it", str(path), row=err.lineno) from err
    except UnicodeDecodeError as err:
        raise ZenInputError(f"{what} is not UTF-8 text; copy it again or rerun the stage that wrote it",
                            str(path)) from err
    if not isinstance(value, dict):
        raise ZenInputError(f"{what} is not a JSON object", str(path))
    return value
