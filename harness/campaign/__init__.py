"""Running many jobs: the pool of worker processes, job planning, C against C (``diff``, the shipped
revisions), merging shards, and the Dask cluster."""
