"""The three stages as plain functions of a composed config (the CLIs are thin Hydra wrappers)."""
