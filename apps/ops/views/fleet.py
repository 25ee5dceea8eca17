from django import forms
from django.http import Http404
from django.shortcuts import render

from apps.fleet.models import Vehicle
from apps.ops.selectors import fleet as selectors
from apps.ops.views.base import PERIODS, URGENCY_CHOICES, Column, ListPage, period_days, staff_required
from apps.telematics.positions.selectors import positions_route

COLUMNS = [
    Column("plate", "Plate", link="/ops/fleet/{pk}/", sort="plate"),
    Column("make", "Make", sort="make"),
    Column("model", "Model"),
    Column("category.code", "Category", sort="category__code"),
    Column("home_store.code", "Store", sort="home_store__code"),
    Column("status", "Status", "label", sort="status"),
    Column("utilisation", "Utilisation (90 days)", "pct", sort="utilisation"),
    Column("revenue", "Revenue", "money", sort="revenue"),
    Column("idle_days", "Days idle", "thousands", sort="idle_days"),
    Column("next_service", "Next service", "day", sort="next_service"),
    Column("urgency", "Urgency", "label", sort="urgency"),
    Column("open_alerts", "Open alerts", "thousands", sort="open_alerts"),
    Column("odometer_km", "Odometer", "km", sort="odometer_km"),
]


class FleetFilter(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=40)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Vehicle.Status.choices])
    category = forms.ChoiceField(required=False)
    store = forms.ChoiceField(required=False)
    urgency = forms.ChoiceField(
        label="Service",
        required=False,
        choices=URGENCY_CHOICES,
    )
    days = forms.TypedChoiceField(
        label="Revenue over", initial=30, required=False, coerce=int, choices=[(p, f"{p} days") for p in PERIODS]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = selectors.filter_choices()
        self.fields["category"].choices = [("", "Any category"), *choices["categories"]]
        self.fields["store"].choices = [("", "Any store"), *[(c, f"{c} {n}") for c, n in choices["stores"]]]


@staff_required
def fleet(request):
    form = FleetFilter(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = {k: data.get(k) or "" for k in ("q", "status", "category", "store", "urgency")}
    vehicles = selectors.vehicle_list(days=data.get("days") or 30, **filters)
    listing = ListPage(rows=vehicles, columns=COLUMNS, default_sort="plate", filename="fleet")
    return listing.response(request, "ops/fleet.html", {"form": form, "map": selectors.store_map()})


@staff_required
def vehicle(request, pk: int):
    found = selectors.vehicle_get(pk=pk)
    if found is None:
        raise Http404("no such vehicle")
    trips = selectors.vehicle_trips(vehicle=found)
    route = selectors.trip_route(trip=trips[0]) if trips else []
    if trips and trips[0].in_progress:  # the route so far, up to the last position received
        route = positions_route(device_id=trips[0].device_id, since=trips[0].started_at)
    return render(
        request,
        "ops/vehicle.html",
        {
            "vehicle": found,
            "days": period_days(request, 30),
            "trend": selectors.vehicle_utilisation_weeks(vehicle=found),
            "service_book": selectors.vehicle_service_book(vehicle=found)[:30],
            "forecast": selectors.vehicle_forecast(vehicle=found),
            "rentals": selectors.vehicle_rentals(vehicle=found),
            "events": selectors.vehicle_events(vehicle=found),
            "trips": trips,
            "route": {"lines": [{"points": route}]} if route else None,
        },
    )
