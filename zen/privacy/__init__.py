"""Differential privacy for Zen: the accountant of user-level DP-SGD (Opacus), the noisy
mechanisms of the side models and the ledger that composes their budgets.

The privacy unit is a **user**: all records whose ``user_id`` is that user. See
``zen.traffic.dp_train`` for the DP-SGD loop of the LSTM.
"""

from zen.privacy.accountant import epsilon_spent, max_steps_within, noise_for_epsilon
from zen.privacy.ledger import PrivacyLedger
from zen.privacy.mechanisms import laplace, private_clock_rate, private_gaussian_profile

__all__ = ["PrivacyLedger", "epsilon_spent", "laplace", "max_steps_within", "noise_for_epsilon",
           "private_clock_rate", "private_gaussian_profile"]
