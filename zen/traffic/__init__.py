"""Traffic models: what each user does, when, for how long and with whom.

Every traffic model (the Poisson baseline, the LSTM) is a :class:`TrafficModel` and samples
:class:`Timelines`; :func:`load_traffic_model` rebuilds one from a model folder.
"""

from zen.traffic.base import TrafficModel, load_traffic_model, resolve_kind, save_traffic_model
from zen.traffic.timeline import CONTACT_NEW, CONTACT_NONE, Timelines

__all__ = ["CONTACT_NEW", "CONTACT_NONE", "Timelines", "TrafficModel", "load_traffic_model", "resolve_kind",
           "save_traffic_model"]
