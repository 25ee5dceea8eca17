"""Analyst pages: read-only views over the intelligence selectors (no logic of their own)."""

import datetime as dt

from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone

from apps.alerts.selectors import event_live_counts, event_live_list
from apps.fleet.selectors import maintenance_queue
from apps.intelligence.reports import driver_performance_report, rows_to_csv, vehicle_performance_report
from apps.intelligence.revenue import vehicle_revenue_opportunities
from apps.intelligence.segments import customer_segment_summary
from apps.intelligence.selectors import demand_forecast_latest
from apps.regions.selectors import company_metrics, region_metrics_rollup

staff_required = user_passes_test(lambda u: u.is_active and u.is_staff, login_url=reverse_lazy("admin:login"))


def _period(days: int = 30) -> tuple[dt.date, dt.date]:
    last = timezone.localdate() - dt.timedelta(days=1)
    return last - dt.timedelta(days=days - 1), last


@staff_required
def command_center(request):
    first, last = _period()
    forecast = demand_forecast_latest()
    context = {
        "first": first,
        "last": last,
        "company": company_metrics(first_day=first, last_day=last),
        "regions": region_metrics_rollup(first_day=first, last_day=last),
        "alert_counts": event_live_counts(),
        "alerts": event_live_list(limit=30),
        "forecast_overall": forecast["backtest"]["overall"] if forecast else None,
        "segments": customer_segment_summary(),
    }
    return render(request, "ops/command_center.html", context)


@staff_required
def maintenance(request):
    return render(request, "ops/maintenance.html", {"queue": maintenance_queue()[:500]})


@staff_required
def revenue(request):
    return render(request, "ops/revenue.html", {"opportunities": vehicle_revenue_opportunities(limit=200)})


@staff_required
def demand_forecast(request):
    forecast = demand_forecast_latest()
    stores = []
    if forecast:
        from apps.regions.models import Store

        names = dict(Store.objects.filter(pk__in=[int(k) for k in forecast["forecasts"]]).values_list("pk", "code"))
        backtests = forecast["backtest"]["stores"]
        for store_id, values in forecast["forecasts"].items():
            stores.append(
                {
                    "store_id": store_id,
                    "code": names.get(int(store_id), store_id),
                    **values,
                    "rows": list(zip(values["days"], values["rentals"], values["expected_on_rent"], strict=True)),
                    "backtest": backtests.get(store_id),
                    "short": max(values["expected_on_rent"]) > values["fleet"],
                }
            )
        stores.sort(key=lambda s: (not s["short"], s["code"]))
    return render(request, "ops/forecast.html", {"forecast": forecast, "stores": stores})


@staff_required
def report_csv(request, report: str):
    if report not in ("vehicles", "drivers"):
        raise Http404("no such report")
    rows = vehicle_performance_report() if report == "vehicles" else driver_performance_report()
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{report}-performance-{timezone.localdate()}.csv"'
    rows_to_csv(rows, response)
    return response
