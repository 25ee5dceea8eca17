import datetime as dt

from apps.jobs.registry import JobContext, register
from apps.regions import services


@register(
    "intelligence.kpis",
    title="Store daily KPIs (revenue, rentals, utilisation, average rate)",
    params={"days": int, "last_day": str},
    schedule="15 2 * * *",
)
def kpis(ctx: JobContext, *, days: int = 7, last_day: str = "") -> dict:
    ctx.set_total(1, note="store daily metrics upsert")
    result = services.store_daily_metrics_refresh(
        last_day=dt.date.fromisoformat(last_day) if last_day else None, days=days
    )
    ctx.advance(1)
    return result
