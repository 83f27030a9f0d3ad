"""Shards in parallel: the same dataset for any number of worker processes."""

from __future__ import annotations

import pytest
from conftest import small_generate_config

from zen.io.dataset import read_dataset


def _records(root) -> dict:
    return {k: v for k, v in read_dataset(root).manifest["checksums"].items() if k.startswith("records")}


def test_two_workers_write_the_same_dataset_as_one(model_dir, dataset, tmp_path):
    from zen.stages.generate import generate

    out = tmp_path / "two"
    generate(small_generate_config(model_dir, out, workers=2))
    assert _records(out) == _records(dataset) and len(_records(out)) > 3


def test_two_workers_write_the_same_stays_as_one(model_dir, tmp_path):
    from zen.io import read_table
    from zen.stages.generate import generate

    one, two = tmp_path / "one", tmp_path / "two"
    generate(small_generate_config(model_dir, one, mode="mobility", workers=1))
    generate(small_generate_config(model_dir, two, mode="mobility", workers=2))
    assert read_table(one / "stays").equals(read_table(two / "stays"))


def test_an_unknown_executor_is_refused_before_any_work(model_dir, tmp_path):
    from zen.schema import ZenInputError
    from zen.stages.generate import generate

    with pytest.raises(ZenInputError, match="unknown executor 'dask'; use local or ray"):
        generate(small_generate_config(model_dir, tmp_path / "x", executor="dask"))
    assert not (tmp_path / "x").exists()


def test_device_cuda_without_cuda_is_one_line_before_any_work(model_dir, tmp_path):
    import torch

    from zen.schema import ZenInputError
    from zen.stages.generate import generate

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ZenInputError, match="device=cuda but torch sees no CUDA device here"):
        generate(small_generate_config(model_dir, tmp_path / "x", device="cuda"))
    assert not (tmp_path / "x").exists()
