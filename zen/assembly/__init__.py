"""The trace assembler: traffic timelines + mobility stays + social graph -> CDR records."""

from zen.assembly.assembler import (
    Population,
    assemble_shard,
    mirror_incoming,
    resolve_counterparts,
)

__all__ = ["Population", "assemble_shard", "mirror_incoming", "resolve_counterparts"]
