from django.shortcuts import render

from apps.ops.selectors import command_center as selectors
from apps.ops.views.base import PERIODS, period_days, staff_required


@staff_required
def command_center(request):
    days = period_days(request, default=30)
    context = {
        "days": days,
        "periods": PERIODS,
        "kpis": selectors.kpi_cards(days=days),
        "trends": selectors.kpi_trends(days=days),
        "alert_counts": selectors.alert_counts(),
        "alerts": selectors.alert_feed(),
        "fleet": selectors.fleet_status_chart(),
        "backtest": selectors.forecast_backtest_words(),
        "segments": selectors.customer_segments(),
    }
    return render(request, "ops/command_center.html", context)


@staff_required
def alert_feed(request):
    """The live feed's partial, swapped in when the stream says an alert changed."""
    return render(
        request, "ops/_alert_feed.html", {"alerts": selectors.alert_feed(), "alert_counts": selectors.alert_counts()}
    )
