"""Mobility emulator: where every synthetic user is over time (anchored daily life + EPR).

Public surface used by the stages: :class:`MobilityParams`, :func:`choose_anchors`,
:class:`MobilityEmulator`, :class:`Stays`, :func:`calibrate`, :func:`calibrate_from_gps`,
:func:`load_gps` and the measures in :mod:`zen.mobility.measures`.
"""

from zen.mobility.calibration import calibrate, calibrate_from_gps, detect_stays, load_gps
from zen.mobility.emulator import MobilityEmulator, choose_anchors
from zen.mobility.params import MobilityParams
from zen.mobility.places import check_places
from zen.mobility.population import iter_stay_frames
from zen.mobility.stays import Stays

__all__ = ["MobilityEmulator", "MobilityParams", "Stays", "calibrate", "calibrate_from_gps", "check_places",
           "choose_anchors", "detect_stays", "iter_stay_frames", "load_gps"]
