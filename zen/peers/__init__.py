"""Adapters between Zen's CDR records and the input/output formats of peer generators.

The peers (gretel-synthetics' DGAN, SDV's PARSynthesizer) are never imported here: these
functions only build and read plain numpy arrays and pandas frames, so they are tested without
the peers installed. ``scripts/run_peers.py`` runs the peers in their own environment.
"""

from zen.peers.activity import activity_edges, activity_levels
from zen.peers.dgan import DGAN_FEATURES, DGANArrays, dgan_arrays_to_records, records_to_dgan_arrays
from zen.peers.par import PAR_COLUMNS, par_frame_to_records, par_metadata, records_to_par_frame

__all__ = ["DGAN_FEATURES", "DGANArrays", "PAR_COLUMNS", "activity_edges", "activity_levels",
           "dgan_arrays_to_records", "par_frame_to_records", "par_metadata", "records_to_dgan_arrays",
           "records_to_par_frame"]
