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


@register(
    "intelligence.payment_fraud",
    title="Payment fraud: train/evaluate the XGBoost model, score new payments, client events",
    params={"retrain": bool, "as_of": str},
    schedule="45 2 * * *",
)
def payment_fraud_job(ctx: JobContext, *, retrain: bool = False, as_of: str = "") -> dict:
    from apps.transactions.intelligence import payment_fraud

    def progress(scored: int) -> None:
        ctx.check_cancelled()
        ctx.set_progress(scored, note=f"{scored:,} payments scored")

    return payment_fraud.payment_fraud_run(retrain=retrain, as_of=_as_of(as_of), progress=progress)
