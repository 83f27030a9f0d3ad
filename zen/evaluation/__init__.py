"""Fidelity, usefulness and privacy of synthetic CDRs against real ones."""
