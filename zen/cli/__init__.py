"""Hydra entry points. Configs live in the repository's ``configs/`` (install with ``pip install -e``)."""

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
REPO_DIR = str(Path(__file__).resolve().parents[2])


def _register_resolvers() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("zen_repo"):
        OmegaConf.register_new_resolver("zen_repo", lambda: REPO_DIR)


_register_resolvers()
