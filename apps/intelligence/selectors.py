"""Reads of what the intelligence jobs stored (on their job runs)."""

from decimal import Decimal

from apps.intelligence.revenue import STORED_DECIMALS
from apps.jobs.selectors import job_run_latest_result


def demand_forecast_latest() -> dict | None:
    """The newest stored demand forecast (the result of the last succeeded forecast run), with
    the run's id and finish time, or None when none has run yet."""
    run = job_run_latest_result(kind="intelligence.demand_forecast")
    if run is None:
        return None
    return {"run_id": run.pk, "finished_at": run.finished_at, **run.result}


def customer_segments_latest() -> dict | None:
    """The newest stored customer segments (the result of the last succeeded segments run: spend
    back to Decimal), with the run's finish time, or None when none has run yet (one query)."""
    run = job_run_latest_result(kind="intelligence.customer_segments")
    if run is None:
        return None
    segments = [{**s, "spend": Decimal(s["spend"]) if s["spend"] is not None else None} for s in run.result["segments"]]
    return {**run.result, "segments": segments, "finished_at": run.finished_at}


def revenue_opportunities_latest() -> dict | None:
    """The revenue opportunities the newest succeeded revenue run ranked (its as_of, finish time
    and rows, amounts and shares back to Decimal), or None before the first run (one query)."""
    run = job_run_latest_result(kind="intelligence.revenue")
    if run is None or "ranking" not in run.result:  # none yet, or a run from before the ranking was kept
        return None
    rows = [
        {**row, **{k: Decimal(row[k]) if row[k] is not None else None for k in STORED_DECIMALS}}
        for row in run.result["ranking"]
    ]
    return {
        "as_of": run.result["as_of"],
        "window_days": run.result.get("window_days"),
        "finished_at": run.finished_at,
        "rows": rows,
    }
