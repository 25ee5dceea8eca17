from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.ops.selectors import reports as selectors
from apps.ops.views.base import URGENCY_CHOICES, Column, ListPage, staff_required

MAINTENANCE_COLUMNS = [
    Column("urgency", "Urgency", "label", sort="urgency_rank"),
    Column("vehicle.plate", "Vehicle", link="/ops/fleet/{vehicle_id}/", sort="vehicle__plate"),
    Column("vehicle.home_store.code", "Store", sort="vehicle__home_store__code"),
    Column("predicted_service_on", "Service by", "day", sort="predicted_service_on"),
    Column("km_since_service", "km since service", "km", sort="km_since_service"),
    Column("days_since_service", "Days since service", "thousands", sort="days_since_service"),
    Column("utilisation", "Utilisation", "pct", sort="utilisation"),
    Column("idle_days", "Idle days", "thousands", sort="idle_days"),
    Column("reason", "Why"),
]

REVENUE_COLUMNS = [
    Column("plate", "Vehicle", link="/ops/fleet/{vehicle_id}/", sort="plate"),
    Column("verdict", "Verdict", "label", sort="verdict"),
    Column("list_rate", "List rate", "money", sort="list_rate"),
    Column("actual_rate", "Paid per day", "money", sort="actual_rate"),
    Column("suggested_rate", "Suggested", "money", sort="suggested_rate"),
    Column("utilisation", "Utilisation", "pct", sort="utilisation"),
    Column("effect_30d", "Effect over 30 days", "money", sort="effect_30d"),
    Column("reason", "Why"),
]


class MaintenanceFilter(forms.Form):
    urgency = forms.ChoiceField(
        required=False,
        choices=URGENCY_CHOICES,
    )
    q = forms.CharField(label="Plate or store", required=False, max_length=40)


class RevenueFilter(forms.Form):
    verdict = forms.ChoiceField(
        required=False, choices=[("", "Any verdict"), ("under_priced", "Under-priced"), ("over_priced", "Over-priced")]
    )


@staff_required
def maintenance(request):
    form = MaintenanceFilter(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queue = selectors.maintenance_queue()
    chart = selectors.maintenance_chart(queue)
    if filters.get("urgency"):
        queue = queue.filter(urgency=filters["urgency"])
    if filters.get("q"):
        from django.db.models import Q

        queue = queue.filter(
            Q(vehicle__plate__icontains=filters["q"]) | Q(vehicle__home_store__code__icontains=filters["q"])
        )
    listing = ListPage(rows=queue, columns=MAINTENANCE_COLUMNS, default_sort="urgency", filename="maintenance-queue")
    return listing.response(request, "ops/maintenance.html", {"form": form, "chart": chart})


@staff_required
def revenue(request):
    form = RevenueFilter(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    ranking = selectors.revenue_opportunities_latest()  # the nightly revenue job's
    rows = ranking["rows"] if ranking else []
    chart = {
        "type": "bar",
        "labels": [r["plate"] for r in rows[:20]],
        "datasets": [{"label": "Revenue effect over 30 days (€)", "data": [float(r["effect_30d"]) for r in rows[:20]]}],
        "unit": "€",
    }
    if filters.get("verdict"):
        rows = [r for r in rows if r["verdict"] == filters["verdict"]]
    listing = ListPage(rows=rows, columns=REVENUE_COLUMNS, default_sort="-effect_30d", filename="revenue-opportunities")
    return listing.response(
        request, "ops/revenue.html", {"form": form, "chart": chart, "total": len(rows), "ranking": ranking}
    )


@staff_required
def demand_forecast(request):
    forecast, stores = selectors.forecast_stores()
    return render(request, "ops/forecast.html", {"forecast": forecast, "stores": stores})


@staff_required
def report_csv(request, report: str):
    if report not in ("vehicles", "drivers"):
        raise Http404("no such report")
    rows = selectors.performance_report(report)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{report}-performance-{timezone.localdate()}.csv"'
    selectors.rows_to_csv(rows, response)
    return response
