"""Reads of what the intelligence jobs stored (on their job runs)."""

from apps.jobs.selectors import job_run_latest_result


def demand_forecast_latest() -> dict | None:
    """The newest stored demand forecast (the result of the last succeeded forecast run), with
    the run's id and finish time, or None when none has run yet."""
    run = job_run_latest_result(kind="intelligence.demand_forecast")
    if run is None:
        return None
    return {"run_id": run.pk, "finished_at": run.finished_at, **run.result}
