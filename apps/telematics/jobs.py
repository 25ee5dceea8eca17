import datetime as dt

from django.utils import timezone

from apps.jobs.registry import JobContext, register
from apps.telematics import partitions, services
from apps.telematics.models import Trip

CHUNK = 500


@register(
    "telematics.trip_features",
    title="Compute trip features (pending trips, or all with recompute)",
    params={"recompute": bool, "limit": int},
    schedule="45 1 * * *",
)
def trip_features(ctx: JobContext, *, recompute: bool = False, limit: int = 0) -> dict:
    """Catches up trips whose features are pending (or every trip with recompute=true), in
    chunks of one read and one bulk update each. Re-running recomputes the same values."""
    # An open trip gets its features when it closes (trip detection queues them).
    trips = Trip.objects.exclude(in_progress=True)
    qs = trips if recompute else trips.exclude(feature_status=Trip.FeatureStatus.DONE)
    ids = list(qs.order_by("pk").values_list("pk", flat=True)[: limit or None])
    ctx.set_total(len(ids))
    done = 0
    for start in range(0, len(ids), CHUNK):
        ctx.check_cancelled()
        chunk = ids[start : start + CHUNK]
        done += services.trip_features_compute_many(trip_ids=chunk)
        ctx.advance(len(chunk))
    return {"trips": len(ids), "with_samples": done}


@register(
    "telematics.driver_features",
    title="Refresh 90-day driver features",
    params={"as_of": str, "window_days": int},
    schedule="0 2 * * *",
)
def driver_features(ctx: JobContext, *, as_of: str = "", window_days: int = 0) -> dict:
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate() - dt.timedelta(days=1)
    ctx.set_total(1, note=f"as of {day}")
    rows = services.driver_features_refresh(as_of=day, window_days=window_days or None)
    ctx.advance(1)
    return {"as_of": day.isoformat(), "drivers": rows}


@register(
    "telematics.ensure_partitions",
    title="Create the samples table's month partitions ahead",
    params={"months": int},
    schedule="0 1 * * *",
)
def ensure_partitions(ctx: JobContext, *, months: int = 0) -> dict:
    created = partitions.partitions_ensure_ahead(months=months or None)
    return {"created": created}
