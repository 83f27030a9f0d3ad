"""Measures on CDR records that the generators and the evaluation share (one definition each).

- :mod:`zen.measures.distances`: KS, Wasserstein-1, Jensen-Shannon, total variation.
- :mod:`zen.measures.traffic`: gaps, durations, rates, ``hour_of_week``, issue 2's ``first_metrics``.
- :mod:`zen.measures.profiles`: the per-user profile vector the LSTM is conditioned on.
- :mod:`zen.measures.individual`: one row of features per user (``user_features``).
- :mod:`zen.measures.mobility`: located records, ``radius_of_gyration``, cell entropy.
- :mod:`zen.measures.graph`: ``local_clustering`` of a sparse adjacency.
- :mod:`zen.measures.conversations`: conversations, reply delays, starters.

Geometry (one Earth radius, one projection, great-circle distances) is :mod:`zen.geo`.
"""
