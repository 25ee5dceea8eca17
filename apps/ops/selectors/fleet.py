"""The fleet browser: every vehicle with its numbers, one vehicle's page, and the store map."""

import datetime as dt

from django.db.models import CharField, Count, DecimalField, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, TruncWeek
from django.utils import timezone

from apps.alerts.models import OperationalEvent
from apps.fleet.models import MaintenanceForecast, MaintenanceRecord, Vehicle, VehicleCategory
from apps.regions.models import Store
from apps.telematics.models import Trip
from apps.telematics.selectors import trip_samples_load
from apps.transactions.models import Rental

LIVE = ("open", "acknowledged")


def _latest_forecast():
    return MaintenanceForecast.objects.filter(vehicle=OuterRef("pk")).order_by("-as_of")


def vehicle_list(
    *, days: int = 30, q: str = "", status: str = "", category: str = "", store: str = "", urgency: str = ""
) -> QuerySet[Vehicle]:
    """Vehicles with revenue of the rentals started in the period, utilisation, idle days and the
    next service from the latest maintenance forecast, and their live alerts (one query)."""
    since = timezone.now() - dt.timedelta(days=days)
    revenue = (
        Rental.objects.filter(vehicle=OuterRef("pk"), rented_at__gte=since)
        .exclude(status="cancelled")
        .order_by()
        .values("vehicle")
        .annotate(total=Sum("rental_amount"))
        .values("total")
    )
    alerts = (
        OperationalEvent.objects.filter(
            entity_type="fleet.vehicle", entity_id=Cast(OuterRef("pk"), output_field=CharField()), status__in=LIVE
        )
        .order_by()
        .values("entity_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    vehicles = Vehicle.objects.select_related("category", "home_store").annotate(
        revenue=Coalesce(Subquery(revenue, output_field=DecimalField()), Value(0), output_field=DecimalField()),
        utilisation=Subquery(_latest_forecast().values("utilisation")[:1]),
        idle_days=Subquery(_latest_forecast().values("idle_days")[:1]),
        next_service=Subquery(_latest_forecast().values("predicted_service_on")[:1]),
        urgency=Subquery(_latest_forecast().values("urgency")[:1]),
        open_alerts=Coalesce(Subquery(alerts, output_field=IntegerField()), Value(0)),
    )
    if q:
        vehicles = vehicles.filter(
            Q(plate__icontains=q) | Q(make__icontains=q) | Q(model__icontains=q) | Q(vin__iexact=q)
        )
    if status:
        vehicles = vehicles.filter(status=status)
    if category:
        vehicles = vehicles.filter(category__code=category)
    if store:
        vehicles = vehicles.filter(home_store__code=store)
    if urgency:
        vehicles = vehicles.filter(urgency=urgency)
    return vehicles.order_by("plate")


def filter_choices() -> dict:
    return {
        "categories": list(VehicleCategory.objects.order_by("code").values_list("code", "name")),
        "stores": list(Store.objects.order_by("code").values_list("code", "name")),
    }


def vehicle_get(*, pk: int) -> Vehicle | None:
    return Vehicle.objects.select_related("category", "home_store", "current_store").filter(pk=pk).first()


def vehicle_utilisation_weeks(*, vehicle: Vehicle, weeks: int = 26) -> dict:
    """Rental days started per week over the last `weeks` weeks, as a share of the week (one query)."""
    since = timezone.now() - dt.timedelta(weeks=weeks)
    rows = (
        Rental.objects.filter(vehicle=vehicle, rented_at__gte=since)
        .exclude(status="cancelled")
        .annotate(week=TruncWeek("rented_at"))
        .values("week")
        .annotate(revenue=Sum("rental_amount"), rentals=Count("id"))
        .order_by("week")
    )
    start = timezone.localdate() - dt.timedelta(weeks=weeks)
    start -= dt.timedelta(days=start.weekday())
    labels = [(start + dt.timedelta(weeks=n)) for n in range(weeks + 1)]
    by_week = {r["week"].date() if hasattr(r["week"], "date") else r["week"]: r for r in rows}
    return {
        "type": "bar",
        "labels": [d.strftime("%d %b") for d in labels],
        "datasets": [
            {
                "label": "Revenue of rentals started (€)",
                "data": [float(by_week.get(d, {}).get("revenue") or 0) for d in labels],
            },
            {
                "label": "Rentals",
                "data": [by_week.get(d, {}).get("rentals", 0) for d in labels],
                "axis": "y2",
                "type": "line",
            },
        ],
        "unit": "€",
        "unit2": "",
    }


def vehicle_service_book(*, vehicle: Vehicle) -> QuerySet[MaintenanceRecord]:
    return MaintenanceRecord.objects.filter(vehicle=vehicle).select_related("store").order_by("-performed_on")


def vehicle_forecast(*, vehicle: Vehicle) -> MaintenanceForecast | None:
    return MaintenanceForecast.objects.filter(vehicle=vehicle).order_by("-as_of").first()


def vehicle_rentals(*, vehicle: Vehicle, limit: int = 20) -> list[Rental]:
    return list(
        Rental.objects.filter(vehicle=vehicle).select_related("customer", "pickup_store").order_by("-rented_at")[:limit]
    )


def vehicle_events(*, vehicle: Vehicle) -> list[OperationalEvent]:
    return list(
        OperationalEvent.objects.filter(entity_type="fleet.vehicle", entity_id=str(vehicle.pk)).order_by(
            "-last_seen_at"
        )[:20]
    )


def vehicle_trips(*, vehicle: Vehicle, limit: int = 10) -> list[Trip]:
    return list(Trip.objects.filter(vehicle=vehicle).select_related("driver").order_by("-started_at")[:limit])


def trip_route(*, trip: Trip, points: int = 300) -> list[list[float]]:
    """The trip's GPS track thinned to at most `points` points (one query)."""
    _, samples = trip_samples_load(trips=[trip])
    if not len(samples):
        return []
    step = max(1, len(samples) // points)
    return [
        [round(float(a), 5), round(float(b), 5)] for a, b in zip(samples.lat[::step], samples.lon[::step], strict=True)
    ]


def store_map() -> dict:
    """Stores with their fleet and the vehicles on rent now (three small queries)."""
    fleet = dict(Vehicle.objects.order_by().values("home_store").annotate(n=Count("id")).values_list("home_store", "n"))
    on_rent = dict(
        Rental.objects.filter(status="active")
        .order_by()
        .values("pickup_store")
        .annotate(n=Count("id"))
        .values_list("pickup_store", "n")
    )
    points = []
    for s in Store.objects.filter(is_active=True):
        s.fleet, s.on_rent = fleet.get(s.pk, 0), on_rent.get(s.pk, 0)
        points.append(
            {
                "lat": float(s.latitude),
                "lon": float(s.longitude),
                "radius": 6 + min(s.on_rent, 30) / 2,
                "colour": "#e53935" if s.fleet and s.on_rent / s.fleet > 0.7 else "#1e88e5",
                "label": f"{s.code} {s.name}: {s.on_rent} on rent of {s.fleet}",
                "short": f"{s.code} {s.on_rent}/{s.fleet}",
            }
        )
    return {"points": points}
