"""Reading and writing tables (CSV, Parquet) safely: chunked reads, atomic writes."""

from zen.io.tables import (
    atomic_path,
    read_table,
    sha256_file,
    write_json_atomic,
    write_table,
)

__all__ = ["atomic_path", "read_table", "sha256_file", "write_json_atomic", "write_table"]
