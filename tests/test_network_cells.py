"""Cells: real tower loading, bad tower files, coverage vs brute force, synthetic layout, places."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, require_data
from zen.geo import LocalProjection, haversine_m
from zen.network import Coverage, build_infrastructure, load_towers, synthetic_layout
from zen.schema import ZenInputError


@pytest.mark.parametrize("name, fmt, rows, cells, dropped", [
    ("aggregated_bs_data-LTE-UMTS.csv", "milan_aggregated", 8300, 8280, 20),
    ("aggregated_bs_data-LTE.csv", "milan_aggregated", 5840, 5812, 28),
    ("cell_base_stations_mapped-LTE.csv", "milan_mapped", 22028, 9291, 7040),
])
def test_milan_counts_match_the_readme(name, fmt, rows, cells, dropped):
    antennas = load_towers(require_data("milan_cells", name), fmt=fmt)
    assert len(antennas) == cells and antennas["cell_id"].is_unique
    assert antennas.attrs["rows_read"] == rows and antennas.attrs["duplicates_dropped"] == dropped
    assert antennas["lat"].between(45.35, 45.57).all() and antennas["lon"].between(9.01, 9.32).all()


def test_milan_duplicates_error_names_the_second_row():
    path = require_data("milan_cells", "aggregated_bs_data-LTE-UMTS.csv")
    with pytest.raises(ZenInputError, match=r"row 11, column 'cell_id': duplicate cell id 10"):
        load_towers(path, fmt="milan_aggregated", duplicates="error")


OCID_HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
GOOD_ROW = "LTE,222,1,100,{cell},0,{lon},{lat},500,3,1,1,1,0\n"


def _ocid(tmp_path, rows: list[str], header: bool = True):
    path = tmp_path / "towers.csv"
    path.write_text((OCID_HEADER if header else "") + "".join(rows))
    return path


def test_opencellid_with_and_without_header(tmp_path):
    rows = [GOOD_ROW.format(cell=c, lon=9.1 + c * 1e-3, lat=45.4) for c in range(5)]
    rows.append(GOOD_ROW.format(cell=9, lon=9.1, lat=45.4))  # same position as cell 0: same site
    for header in (True, False):
        ant = load_towers(_ocid(tmp_path, rows, header), fmt="opencellid")
        assert ant["cell_id"].tolist() == [0, 1, 2, 3, 4, 9]
        assert ant["site_id"].iloc[0] == ant["site_id"].iloc[5] and ant["site_id"].nunique() == 5


@pytest.mark.parametrize("rows, match", [
    ([GOOD_ROW.format(cell=1, lon=9.1, lat=45.4), GOOD_ROW.format(cell=2, lon=9.1, lat="")],
     r"row 2, column 'lat': empty value; expected a number"),
    ([GOOD_ROW.format(cell=1, lon=9.1, lat=45.4), GOOD_ROW.format(cell=2, lon=9.1, lat=95.0)],
     r"row 2, column 'lat': lat 95.0 is outside"),
    ([GOOD_ROW.format(cell=1, lon=9.1, lat=45.4), GOOD_ROW.format(cell=1, lon=9.2, lat=45.5)],
     r"row 2, column 'cell_id': duplicate cell id 1"),
    ([], r"towers.csv: the antennas table is empty"),
])
def test_bad_tower_files_give_one_line_errors_and_write_nothing(tmp_path, rows, match):
    path = _ocid(tmp_path, rows)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ZenInputError, match=match) as err:
        load_towers(path, fmt="opencellid", duplicates="error")
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_empty_file_and_missing_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ZenInputError, match="empty"):
        load_towers(empty)
    odd = tmp_path / "odd.csv"
    odd.write_text("id,y,x\n1,45.4,9.1\n")
    with pytest.raises(ZenInputError, match="column 'lat'"):
        load_towers(odd, fmt="generic", mapping={"cell_id": "id", "lat": "lat", "lon": "x"})
    ant = load_towers(odd, fmt="generic", mapping={"cell_id": "id", "lat": "y", "lon": "x"})
    assert ant[["cell_id", "lat", "lon"]].values.tolist() == [[1, 45.4, 9.1]]


def test_nearest_cell_agrees_with_brute_force():
    antennas = load_towers(require_data("milan_cells", "aggregated_bs_data-LTE-UMTS.csv"),
                           fmt="milan_aggregated")
    rng = np.random.default_rng(0)
    lat = rng.uniform(45.34, 45.58, 3000)
    lon = rng.uniform(9.0, 9.33, 3000)
    cells, dist = Coverage(antennas).serving_cell(lat, lon, return_distance=True)
    site_lat, site_lon = antennas["lat"].to_numpy(), antennas["lon"].to_numpy()
    exact = haversine_m(lat[:, None], lon[:, None], site_lat[None], site_lon[None])
    best = exact.min(axis=1)
    chosen = exact[np.arange(len(lat)), pd.Index(antennas["cell_id"]).get_indexer(cells)]
    # the projection is good to < 0.1 % over Milan: the chosen site is the nearest or a near-tie
    assert np.all(chosen <= best * 1.001 + 0.5)
    assert np.mean(chosen == best) > 0.99
    assert np.allclose(dist, chosen, rtol=2e-3, atol=0.5)


def test_sector_follows_the_bearing():
    antennas = pd.DataFrame({"cell_id": [10, 11, 12], "site_id": [0, 0, 0], "lat": [45.0] * 3,
                             "lon": [9.0] * 3, "azimuth": [0.0, 120.0, 240.0]})
    proj = LocalProjection(45.0, 9.0)
    lat, lon = proj.to_latlon(np.array([[0.0, 500.0], [400.0, -200.0], [-400.0, -200.0]]))
    assert Coverage(antennas).serving_cell(lat, lon).tolist() == [10, 11, 12]


def test_synthetic_layout_is_denser_in_the_centre_and_seeded():
    ant = synthetic_layout(1000, 45.46, 9.19, radius_km=25, scale_km=4.0, sectors=3, seed=1)
    assert ant.equals(synthetic_layout(1000, 45.46, 9.19, radius_km=25, scale_km=4.0, sectors=3, seed=1))
    assert ant["site_id"].nunique() == 1000 and len(ant) == 3000
    sites = ant.drop_duplicates("site_id")
    xy = LocalProjection(45.46, 9.19).to_xy(sites["lat"], sites["lon"])
    r = np.hypot(xy[:, 0], xy[:, 1]) / 1000
    centre_density = np.sum(r < 2) / (np.pi * 2 ** 2)
    ring_density = np.sum((r > 10) & (r < 15)) / (np.pi * (15 ** 2 - 10 ** 2))
    assert centre_density > 8 * ring_density
    from scipy.spatial import cKDTree
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1]
    assert 150 < np.median(nearest[r < 2]) < 500  # metres: urban inter-site distance
    assert np.median(nearest[r > 12]) > 1000      # rural: km apart


def test_build_infrastructure_from_both_configs(shared_data):
    for name in ("milan", "synthetic_city"):
        cfg = yaml.safe_load((REPO / "zen" / "configs" / "network" / f"{name}.yaml").read_text())
        antennas, places = build_infrastructure(cfg, shared_data, seed=0)
        assert places["place_id"].tolist() == list(range(len(places)))
        assert np.isclose(places["home_weight"].sum(), 1) and np.isclose(places["work_weight"].sum(), 1)
        assert places["cell_id"].isin(antennas["cell_id"]).all()
        assert places["cell_id"].nunique() > 0.3 * antennas["cell_id"].nunique()


def test_places_and_layout_from_files(tmp_path, shared_data):
    grid = pd.DataFrame({"lat": [45.40, 45.45, 45.50], "lon": [9.1, 9.2, 9.3], "population": [0, 10, 90]})
    grid.to_csv(tmp_path / "grid.csv", index=False)
    ant = synthetic_layout(500, 0, 0, 1, sectors=1, population_grid=tmp_path / "grid.csv", seed=0)
    assert np.abs(ant["lat"] - 45.40).min() > 0.004  # no site in the empty cell
    places = pd.DataFrame({"lat": [45.45, 45.5], "lon": [9.2, 9.3], "home_weight": [1, 3],
                           "work_weight": [2, 2]})
    places.to_csv(tmp_path / "places.csv", index=False)
    cfg = {"kind": "synthetic", "layout": {"n_sites": 50, "center_lat": 45.46, "center_lon": 9.19,
                                           "radius_km": 10, "population_grid": str(tmp_path / "grid.csv")},
           "places": {"path": str(tmp_path / "places.csv")}}
    _, got = build_infrastructure(cfg, shared_data, seed=0)
    assert got["home_weight"].tolist() == [0.25, 0.75] and got["work_weight"].tolist() == [0.5, 0.5]
    grid.loc[1, "population"] = -1
    grid.to_csv(tmp_path / "grid.csv", index=False)
    with pytest.raises(ZenInputError, match="row 2, column 'population'"):
        synthetic_layout(10, 0, 0, 1, population_grid=tmp_path / "grid.csv")


def test_bad_network_configs(tmp_path, shared_data):
    with pytest.raises(ZenInputError, match="unknown network kind 'towerz'"):
        build_infrastructure({"kind": "towerz"}, shared_data, seed=0)
    with pytest.raises(ZenInputError, match="unknown tower format 'csv'"):
        load_towers(_ocid(tmp_path, [GOOD_ROW.format(cell=1, lon=9.1, lat=45.4)]), fmt="csv")
    with pytest.raises(ZenInputError, match="file not found"):
        build_infrastructure({"kind": "towers", "towers": {"path": "nowhere.csv"}}, shared_data, seed=0)
