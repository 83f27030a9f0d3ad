"""Traffic ↔ mobility: a fitted dependency between how users move and how they use the network.

Its own package because it sits between two modules that must not import each other
(``zen.traffic`` samples events, ``zen.mobility`` emulates stays; DESIGN.md): it reads both
sides' states on 30-minute slots (:mod:`zen.measures.slots`), fits a joint Markov chain per user
signature (:mod:`zen.coupling.chain`, :mod:`zen.coupling.model`), and couples generation by
re-weighting a shard's sampled events by the generated mobility states (:mod:`zen.coupling.hook`).
"""

from zen.coupling.chain import JointChain
from zen.coupling.model import CouplingModel

__all__ = ["CouplingModel", "JointChain"]
