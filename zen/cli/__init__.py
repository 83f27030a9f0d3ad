"""Hydra entry points. The configs ship inside the package (``zen/configs``; ``--config-dir`` adds yours)."""

import zen  # noqa: F401  (registers the ${zen_data:} resolver)
from zen.paths import CONFIG_DIR as _CONFIG_DIR

CONFIG_DIR = str(_CONFIG_DIR)
