"""`Idempotency-Key` on POSTs: the first response is kept and replayed for the same request."""
