"""Measures on CDR records that the generators and the evaluation share (one definition each)."""
