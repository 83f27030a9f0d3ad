"""Fidelity, usefulness and privacy of synthetic CDRs against real ones.

The ``zen-evaluate`` stage (:func:`zen.stages.evaluate.evaluate`) glues these together:

- :mod:`zen.measures`: the measures and distances the scores are made of (KS, Wasserstein-1, JSD,
  total variation, issue 2's ``first_metrics``, ``user_features``, radius of gyration...), shared
  with the models; the records compared are :class:`zen.data.base.CDRData`.
- :mod:`zen.evaluation.graph`: degree, reciprocity, clustering with scipy.sparse.
- :mod:`zen.evaluation.fidelity`: all distances between two populations, ``overall_score``.
- :mod:`zen.evaluation.usefulness`: RAN power savings, anomaly detection (TSTR/TRTR), population tracing.
- :mod:`zen.evaluation.privacy`: distance to closest record, membership inference, exact copies.
- :mod:`zen.evaluation.plots`, :mod:`zen.evaluation.report`: figures, pass/fail, the report folder.
"""

from zen.evaluation.fidelity import fidelity_scores, overall_score
from zen.evaluation.privacy import privacy_scores
from zen.evaluation.sample import CDRSample  # builds a zen.data.base.CDRData (old name)
from zen.evaluation.usefulness import usefulness_scores

__all__ = ["CDRSample", "fidelity_scores", "overall_score", "privacy_scores", "usefulness_scores"]
