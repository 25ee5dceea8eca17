"""Follow-up points of the transactions app (see apps.common.hooks); apps above it connect."""

from apps.common.hooks import Hook

# Sent after an ingest run committed and loaded payments, with `ingest_run` (the IngestRun).
payments_ingested = Hook("transactions.payments_ingested")
