"""What a generated dataset folder holds, read back from the files: Parquet types and the places table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import zen
from zen.mobility.places import PLACE_ID_BASE, check_places
from zen.schema import DIRECTIONS, EVENTS


def test_event_and_direction_are_dictionaries_in_the_written_parquet(dataset):
    files = sorted((dataset / "records").rglob("*.parquet"))
    assert files
    for f in files:
        schema = pq.read_schema(f)
        for name, values in (("event", EVENTS), ("direction", DIRECTIONS)):
            kind = schema.field(name).type
            assert pa.types.is_dictionary(kind), f"{f}: {name} is {kind}"
            assert pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)
            categories = pq.read_table(f, columns=[name]).column(name).combine_chunks().dictionary
            assert set(categories.to_pylist()) <= set(values)
    assert str(zen.load_dataset(dataset).records["event"].dtype) == "category"


def test_write_stays_writes_the_places_its_place_ids_refer_to(baseline_model_dir, tmp_path):
    ds = zen.generate(baseline_model_dir, n_users=60, days=2, out_dir=tmp_path / "ds", write_stays=True,
                      network="synthetic_city", shard_users=25, seed=5, device="cpu")
    stays, places = ds.extra["stays"], ds.extra["places"]
    assert len(stays) and places is not None and ds.manifest["rows"]["places"] == len(places)
    assert np.array_equal(places["place_id"], PLACE_ID_BASE + np.arange(len(places)))
    assert stays["place_id"].isin(places["place_id"]).all()
    cells = ds.antennas["cell_id"]
    assert not stays["place_id"].isin(cells).any() and not places["place_id"].isin(cells).any()
    assert places["cell_id"].isin(cells).all()  # a place reaches its antenna through its cell_id
    # the join a user makes (stays -> places -> cell) finds every stay's place
    joined = stays.merge(places[["place_id", "cell_id"]], on="place_id", how="left")
    assert joined["cell_id"].notna().all()
    again = check_places(places)  # a written places table is valid emulator input again
    assert np.array_equal(again["place_id"], np.arange(len(places)))
    pd.testing.assert_frame_equal(again.drop(columns="place_id"), places.drop(columns="place_id"))
