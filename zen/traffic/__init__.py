"""Traffic models: what each user does, when, for how long and with whom.

Every traffic model (the Poisson baseline, the LSTM) samples :class:`Timelines`.
"""

from zen.traffic.timeline import CONTACT_NEW, CONTACT_NONE, Timelines

__all__ = ["CONTACT_NEW", "CONTACT_NONE", "Timelines"]
