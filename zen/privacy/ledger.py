"""What was released from the real data, under which mechanism and budget, composed.

Every fitted thing that goes into the model folder is entered once: private ones with their
(epsilon, delta), public ones (constants, literature values, the data's schema) and the ones
released without noise (``private=False``), so ``model.json`` lists all of them. The total is
basic sequential composition: epsilons add, deltas add (Dwork & Roth 2014, Thm 3.16); it holds
for any mix of pure and approximate DP mechanisms applied to the same users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Release:
    name: str                  # what was released, e.g. "traffic LSTM weights"
    mechanism: str             # e.g. "DP-SGD (Opacus, Poisson sampling, per-user clipping)"
    epsilon: float | None      # None: not private (no formal guarantee) or public (no data)
    delta: float = 0.0
    private: bool = True       # False: fitted on the real users without noise
    public: bool = False       # True: uses no data of the users (constants, literature)
    details: dict = field(default_factory=dict)


class PrivacyLedger:
    """Releases of one training run; :meth:`summary` is what ``model.json`` records."""

    def __init__(self, unit: str, n_users: int):
        self.unit, self.n_users, self.releases = unit, int(n_users), []

    def private(self, name: str, mechanism: str, epsilon: float, delta: float = 0.0, **details) -> None:
        self.releases.append(Release(name, mechanism, float(epsilon), float(delta), details=details))

    def public(self, name: str, why: str) -> None:
        self.releases.append(Release(name, why, None, private=False, public=True))

    def not_private(self, name: str, why: str) -> None:
        self.releases.append(Release(name, why, None, private=False))

    @property
    def epsilon(self) -> float:
        return float(sum(r.epsilon for r in self.releases if r.epsilon is not None))

    @property
    def delta(self) -> float:
        return float(sum(r.delta for r in self.releases if r.epsilon is not None))

    def summary(self) -> dict:
        """Plain JSON: total (epsilon, delta) and each release."""
        leaks = [r.name for r in self.releases if not r.private and not r.public]
        return {"unit": self.unit, "n_users": self.n_users, "epsilon": self.epsilon,
                "delta": self.delta, "composition": "basic (epsilons and deltas add)",
                "covers_everything": not leaks, "not_private": leaks,
                "releases": [asdict(r) for r in self.releases]}
