"""The sync engine: pull pages from a connector, upsert records, record each run."""
