"""Job kinds of the rental and payment intelligence (found by apps.jobs.registry.discover)."""

import datetime as dt

from apps.jobs.registry import JobContext, register
from apps.transactions.intelligence import rental_fraud


def _as_of(value: str) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@register(
    "intelligence.rental_fraud",
    title="Rental fraud rules and anomaly scores per customer",
    params={"as_of": str},
    schedule="30 2 * * *",
)
def rental_fraud_job(ctx: JobContext, *, as_of: str = "") -> dict:
    ctx.set_total(1, note="scan customers")
    result = rental_fraud.rental_fraud_run(as_of=_as_of(as_of))
    ctx.advance(1)
    return result
