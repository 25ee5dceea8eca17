import datetime as dt

from apps.fleet import services
from apps.jobs.registry import JobContext, register


@register(
    "intelligence.revenue",
    title="Revenue opportunities: under- and over-priced vehicles",
    params={"as_of": str},
    schedule="0 5 * * *",
)
def revenue(ctx: JobContext, *, as_of: str = "") -> dict:
    ctx.set_total(1, note="rank vehicles")
    parsed = dt.datetime.fromisoformat(as_of) if as_of else None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    result = services.revenue_opportunities_sync(as_of=parsed)
    ctx.advance(1)
    return result


@register(
    "intelligence.maintenance",
    title="Predictive maintenance: next service per vehicle, queue and events",
    params={"as_of": str},
    schedule="15 5 * * *",
)
def maintenance(ctx: JobContext, *, as_of: str = "") -> dict:
    ctx.set_total(1, note="forecast services")
    result = services.maintenance_forecast_refresh(as_of=dt.date.fromisoformat(as_of) if as_of else None)
    ctx.advance(1)
    return result
