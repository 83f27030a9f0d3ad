"""The (epsilon, delta) of DP-SGD with Poisson sampling, through Opacus's accountants.

Thin wrappers so that the training loop, the stopping rule and the tests ask one place:
``epsilon_spent`` for a run that has taken ``steps`` steps, ``noise_for_epsilon`` for the noise
multiplier that spends a target budget in a planned number of steps, and ``max_steps_within``
for the last step a budget allows (training stops there).
"""

from __future__ import annotations

import warnings

ACCOUNTANTS = ("rdp", "prv", "gdp")


def _check(accountant: str) -> None:
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"unknown accountant {accountant!r}; one of {ACCOUNTANTS}")


def epsilon_spent(noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                  accountant: str = "rdp") -> float:
    """Epsilon after ``steps`` Poisson-sampled steps of noise ``noise_multiplier`` at ``delta``."""
    _check(accountant)
    if steps <= 0:
        return 0.0
    from opacus.accountants import create_accountant  # here: Opacus (~0.5 s) is for DP runs only

    acc = create_accountant(accountant)
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    with warnings.catch_warnings():  # "optimal order is the largest alpha": a looser, still valid bound
        warnings.simplefilter("ignore")
        return float(acc.get_epsilon(delta=delta))


def noise_for_epsilon(epsilon: float, delta: float, sample_rate: float, steps: int,
                      accountant: str = "rdp") -> float:
    """The smallest noise multiplier (to Opacus's tolerance) that keeps ``steps`` steps within
    ``(epsilon, delta)``."""
    _check(accountant)
    from opacus.accountants.utils import get_noise_multiplier

    return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                      sample_rate=sample_rate, steps=int(steps), accountant=accountant))


def max_steps_within(epsilon: float, noise_multiplier: float, sample_rate: float, delta: float,
                     upper: int, accountant: str = "rdp") -> int:
    """The most steps (at most ``upper``) whose epsilon stays <= ``epsilon`` (binary search:
    epsilon grows with the steps)."""
    if epsilon_spent(noise_multiplier, sample_rate, upper, delta, accountant) <= epsilon:
        return int(upper)
    lo, hi = 0, int(upper)  # eps(lo) <= epsilon < eps(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if epsilon_spent(noise_multiplier, sample_rate, mid, delta, accountant) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo
