"""The job queue in the database: enqueue in the caller's transaction, claim, run, retry.

Self-contained: it knows nothing of billing, syncs or ResMan; handlers are registered by kind.
"""
