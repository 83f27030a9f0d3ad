"""``executor=ray``: the shard steps as Ray tasks write the same dataset as ``executor=local``.

Ray is the optional extra ``zen-cdr[ray]``; ``.ci/run`` installs it, so on CI (``CI=true``) a
missing Ray fails these tests instead of skipping them. Each generation starts a local Ray with
2 CPUs through the executor itself, as ``zen-generate executor=ray`` does: ~10 s for ``ray.init``
plus ~7 s for the workers to import torch and Zen on a loaded 2-core machine.
"""

from __future__ import annotations

import os

import pytest
from conftest import small_generate_config

from zen.io.dataset import read_dataset


@pytest.fixture(autouse=True)
def ray():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Ray is not installed; CI installs it with pip install -e '.[dev,ray]'")
        pytest.skip("Ray is not installed (pip install 'zen-cdr[ray]')")
    yield ray
    assert not ray.is_initialized(), "the executor left its local Ray running"


def test_a_local_run_killed_after_one_shard_resumes_on_ray(model_dir, dataset, tmp_path, monkeypatch):
    """The default run's one Ray generation (~20 s, most of it Ray's start-up): the done-markers
    are the same for both executors and filesystems, so Ray runs only the unfinished shards. The
    killed run writes to a file:// URI; the Ray tasks write their shards themselves through a
    pyarrow filesystem that is not the local one (a SubTreeFileSystem over the same folder, as an
    object store would be reached), and every file (records, users, edges, antennas) matches
    ``executor=local``."""
    from pyarrow import fs

    import zen.generation.pipeline as pipeline
    from zen.stages.generate import generate

    out, original, ran = tmp_path / "resumed-on-ray", pipeline.generate_shard, []

    def dies_on_second_shard(spec, shard, *rest):
        if ran:
            raise KeyboardInterrupt("killed")
        ran.append(shard.index)
        return original(spec, shard, *rest)

    monkeypatch.setattr(pipeline, "generate_shard", dies_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        generate(small_generate_config(model_dir, out.as_uri()))
    monkeypatch.setattr(pipeline, "generate_shard", original)
    first = sorted((out / "records").rglob("shard-00000-own.parquet"))
    stamps = [p.stat().st_mtime_ns for p in first]
    bucket = fs.SubTreeFileSystem(str(tmp_path), fs.LocalFileSystem())
    cfg = small_generate_config(model_dir, out.name, executor="ray", workers=2)
    summary = generate(cfg, filesystem=bucket)
    assert [p.stat().st_mtime_ns for p in first] == stamps and len(first) > 0  # shard 0 not redone
    files = read_dataset(out.name, bucket).manifest["checksums"]
    assert files == read_dataset(dataset).manifest["checksums"]
    assert sum(k.startswith("records") for k in files) > 3
    assert summary["records"] == read_dataset(dataset).manifest["rows"]["records"]


@pytest.mark.slow
def test_a_whole_ray_run_writes_the_same_records_and_stays_as_local(model_dir, dataset, tmp_path):
    """Both passes of mode=full and the stays of mode=mobility, every shard on Ray (~40 s)."""
    from zen.io import read_table
    from zen.stages.generate import generate

    out = tmp_path / "ray"
    generate(small_generate_config(model_dir, out, executor="ray", workers=2))
    assert read_dataset(out).manifest["checksums"] == read_dataset(dataset).manifest["checksums"]
    one, ray_stays = tmp_path / "stays-local", tmp_path / "stays-ray"
    generate(small_generate_config(model_dir, one, mode="mobility"))
    generate(small_generate_config(model_dir, ray_stays, mode="mobility", executor="ray", workers=2))
    assert read_table(one / "stays").equals(read_table(ray_stays / "stays"))


@pytest.mark.slow
def test_a_bad_file_in_a_ray_task_is_the_steps_own_one_line_error(tmp_path):
    """A shard step's ZenInputError reaches the driver as itself (one line), not as Ray's wrapper."""
    import numpy as np

    from zen.generation import GenerationSpec, Layout, pipeline
    from zen.generation.executors import RayExecutor
    from zen.io.storage import Store
    from zen.schema import ZenInputError

    layout = Layout(Store.of(tmp_path / "out"))
    bad = tmp_path / "out" / layout.pending(0, 1)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    spec = GenerationSpec(n_users=10, days=1)
    steps = {"mirror": (pipeline.resolve_mirrors, (spec, np.zeros(3, dtype=np.int64), layout))}
    with RayExecutor(steps, workers=2) as executor, pytest.raises(ZenInputError) as err:
        list(executor.map("mirror", pipeline.shard_bounds(spec)))
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
