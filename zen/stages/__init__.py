"""Stage functions: thin glue from a composed config to the modules (one per console script)."""
