"""The trace assembler: traffic timelines + mobility stays + social graph -> CDR records."""

from zen.assembly.assembler import (
    Population,
    assemble_shard,
    mirror_on_network,
    resolve_counterparts,
    started_per_day,
)

__all__ = ["Population", "assemble_shard", "mirror_on_network", "resolve_counterparts", "started_per_day"]
