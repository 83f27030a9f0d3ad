"""A Markov chain over joint states with partly observed sequences: EM fit and forward–backward.

Each sequence (one user) has a *signature* ``k`` (0..K-1) and each step ``t`` a *period* ``p_t``
(e.g. the 4-hour block of the day): the transition into step ``t`` is ``trans[k, p_t]``. What is
observed at a step is a *mask* over the states: the set of states consistent with the observation
(one state when everything is seen, several when a side is unobserved). With 0/1 masks as
emissions this is a hidden Markov model, so Baum–Welch fits it and forward–backward gives
posteriors of the hidden parts (Rabiner, Proc. IEEE 77(2), 1989; scaled recursions).

Transitions are smoothed towards the signature-pooled chain of the same period by ``prior``
pseudo-counts per row (a Dirichlet prior), so small signatures borrow strength from all users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class JointChain:
    """Initial and transition probabilities of ``K`` signatures over ``S`` states.

    Attributes:
        init: ``[K, S]`` distribution of the first state.
        trans: ``[K, P, S, S]`` row-stochastic transitions, one per signature and period.
    """

    init: np.ndarray
    trans: np.ndarray

    @property
    def n_states(self) -> int:
        return self.init.shape[1]

    def forward_backward(self, masks: np.ndarray, sig: np.ndarray, period: np.ndarray,
                         want_xi: bool = False):
        """Posteriors of every step given the masks.

        Args:
            masks: ``[U, T, S]`` 0/1 (float) allowed states per step; each step allows at least one.
            sig: ``[U]`` signature of each sequence. period: ``[T]`` period of each step.
            want_xi: also return the expected transition counts ``[K, P, S, S]``.
        Returns:
            ``gamma [U, T, S]`` posteriors, ``loglik [U]`` (log P(observations)) and, with
            ``want_xi``, the expected transition counts.
        """
        masks = np.asarray(masks, dtype=np.float64)
        n, steps, s = masks.shape
        alpha = np.empty_like(masks)
        c = np.empty((n, steps))
        a = self.init[sig] * masks[:, 0]
        c[:, 0] = a.sum(axis=1)
        alpha[:, 0] = a / c[:, 0, None]
        for t in range(1, steps):
            a = np.einsum("us,usr->ur", alpha[:, t - 1], self.trans[sig, period[t]]) * masks[:, t]
            c[:, t] = a.sum(axis=1)
            alpha[:, t] = a / c[:, t, None]
        beta = np.ones_like(masks)
        xi = np.zeros((self.init.shape[0], self.trans.shape[1], s, s)) if want_xi else None
        onehot = np.eye(self.init.shape[0])[sig] if want_xi else None
        for t in range(steps - 1, 0, -1):
            eb = masks[:, t] * beta[:, t] / c[:, t, None]  # [U, S]
            a_t = self.trans[sig, period[t]]  # [U, S, S]
            beta[:, t - 1] = np.einsum("usr,ur->us", a_t, eb)
            if want_xi:
                x = alpha[:, t - 1, :, None] * a_t * eb[:, None, :]
                xi[:, period[t]] += np.einsum("uk,uij->kij", onehot, x)
        gamma = alpha * beta
        gamma /= gamma.sum(axis=2, keepdims=True)
        loglik = np.log(c).sum(axis=1)
        return (gamma, loglik, xi) if want_xi else (gamma, loglik)

    def posterior(self, masks: np.ndarray, sig: np.ndarray, period: np.ndarray,
                  chunk: int = 2000) -> np.ndarray:
        """``gamma [U, T, S]`` of :meth:`forward_backward`, ``chunk`` sequences at a time."""
        parts = [self.forward_backward(masks[i:i + chunk], sig[i:i + chunk], period)[0]
                 for i in range(0, len(masks), chunk)]
        return np.concatenate(parts) if parts else np.zeros(masks.shape)

    @classmethod
    def fit(cls, masks: np.ndarray, sig: np.ndarray, period: np.ndarray, n_sig: int, n_periods: int,
            iters: int = 40, prior: float = 10.0, tol: float = 1e-5,
            start: np.ndarray | None = None) -> tuple[JointChain, list[float]]:
        """Baum–Welch over the masked sequences.

        Args:
            masks, sig, period: as in :meth:`forward_backward`.
            n_sig, n_periods: K and P.
            iters: at most this many EM iterations; stops when the mean log-likelihood per step
                improves by less than ``tol``.
            prior: pseudo-counts per transition row towards the pooled chain of the period.
            start: ``[S, S]`` initial transition matrix (default uniform). A uniform start is a
                fixed point of EM when hidden states are exchangeable (the mobility of idle
                slots): give a start that breaks the symmetry, e.g. "states persist".
        Returns:
            the chain and the mean log-likelihood per step after each iteration.
        """
        s = masks.shape[2]
        a0 = np.full((s, s), 1.0 / s) if start is None else start / start.sum(axis=1, keepdims=True)
        chain = cls(np.full((n_sig, s), 1.0 / s), np.broadcast_to(a0, (n_sig, n_periods, s, s)).copy())
        history: list[float] = []
        steps = masks.shape[0] * masks.shape[1]
        for _ in range(iters):
            gamma, loglik, xi = chain.forward_backward(masks, sig, period, want_xi=True)
            first = np.zeros((n_sig, s))
            np.add.at(first, sig, gamma[:, 0])
            chain = cls(_smooth(first, prior), _smooth(xi, prior))
            history.append(float(loglik.sum() / steps))
            if len(history) > 1 and history[-1] - history[-2] < tol:
                break
        return chain, history

    def sample(self, sig: np.ndarray, period: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """State sequences ``[U, T]`` (int64) drawn from the chain (for tests and simulation)."""
        n, steps = len(sig), len(period)
        out = np.empty((n, steps), np.int64)
        out[:, 0] = _draw(self.init[sig], rng)
        for t in range(1, steps):
            out[:, t] = _draw(self.trans[sig, period[t], out[:, t - 1]], rng)
        return out


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of the row-stochastic ``p [U, S]``."""
    u = rng.random(len(p))[:, None]
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def _smooth(counts: np.ndarray, prior: float) -> np.ndarray:
    """Rows of ``counts [K, ..., S]`` normalised after adding ``prior`` pseudo-counts spread as the
    signature-pooled rows (+ a tiny uniform floor so that no transition is impossible)."""
    pooled = counts.sum(axis=0, keepdims=True) + 1e-3
    pooled = pooled / pooled.sum(axis=-1, keepdims=True)
    smoothed = counts + prior * pooled
    return smoothed / smoothed.sum(axis=-1, keepdims=True)
