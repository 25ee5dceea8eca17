"""Read queries over the fleet: the maintenance queue, vehicle status counts."""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from apps.fleet.models import MaintenanceForecast


def maintenance_queue(*, as_of: dt.date | None = None) -> QuerySet[MaintenanceForecast]:
    """The latest forecast per vehicle, most urgent first (overdue, due soon, planned, ok)."""
    as_of = as_of or (
        MaintenanceForecast.objects.order_by("-as_of").values_list("as_of", flat=True).first() or timezone.localdate()
    )
    urgency_order = ["overdue", "due_soon", "planned", "ok"]
    from django.db.models import Case, IntegerField, Value, When

    return (
        MaintenanceForecast.objects.filter(as_of=as_of)
        .select_related("vehicle", "vehicle__home_store")
        .annotate(
            urgency_rank=Case(
                *[When(urgency=u, then=Value(i)) for i, u in enumerate(urgency_order)], output_field=IntegerField()
            )
        )
        .order_by("urgency_rank", "predicted_service_on", "vehicle_id")
    )


def vehicle_status_counts() -> dict:
    from django.db.models import Count

    from apps.fleet.models import Vehicle

    counts = dict.fromkeys(Vehicle.Status.values, 0)
    for row in Vehicle.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts
