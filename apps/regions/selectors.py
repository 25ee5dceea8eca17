"""Read queries over stores, regions and their KPIs."""

import datetime as dt
from decimal import Decimal

from django.db.models import Case, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Round

from apps.regions.models import StoreDailyMetrics


def store_daily_metrics_list(*, first_day: dt.date, last_day: dt.date) -> QuerySet[StoreDailyMetrics]:
    return StoreDailyMetrics.objects.filter(date__range=(first_day, last_day)).select_related("store__region")


def _rollup(queryset, *group_by: str) -> list[dict]:
    """Sums stores into groups; utilisation is vehicle-days on rent over fleet-days (not a mean of
    shares) and the average rate is weighted by the rentals that produced it."""
    money = DecimalField(max_digits=16, decimal_places=4)
    rows = (
        queryset.values(*group_by)
        .annotate(
            total_revenue=Sum("revenue"),
            total_rentals=Sum("rentals"),
            vehicle_days_on_rent=Sum("active_rentals"),
            fleet_days=Sum("fleet_size"),
            rate_weight=Sum(ExpressionWrapper(F("average_daily_rate") * F("rentals"), output_field=money)),
        )
        .annotate(
            utilisation=Case(
                When(fleet_days=0, then=Value(Decimal("0"))),
                default=Round(
                    Cast(F("vehicle_days_on_rent"), money) / Cast(F("fleet_days"), money), 4, output_field=money
                ),
                output_field=money,
            ),
            average_daily_rate=Case(
                When(total_rentals=0, then=Value(Decimal("0"))),
                default=Round(F("rate_weight") / Cast(F("total_rentals"), money), 2, output_field=money),
                output_field=money,
            ),
        )
        .order_by(*group_by)
    )
    result = []
    for row in rows:
        row.pop("rate_weight")
        row["revenue"] = row.pop("total_revenue") or Decimal("0")
        row["rentals"] = row.pop("total_rentals") or 0
        result.append(row)
    return result


def region_metrics_rollup(*, first_day: dt.date, last_day: dt.date, by_day: bool = False) -> list[dict]:
    """KPIs per region (and per day with by_day) from StoreDailyMetrics, in one query."""
    group = ["store__region__code", "store__region__name"] + (["date"] if by_day else [])
    rows = _rollup(StoreDailyMetrics.objects.filter(date__range=(first_day, last_day)), *group)
    for row in rows:
        row["region_code"] = row.pop("store__region__code")
        row["region_name"] = row.pop("store__region__name")
    return rows


def store_metrics_rollup(*, first_day: dt.date, last_day: dt.date) -> list[dict]:
    rows = _rollup(
        StoreDailyMetrics.objects.filter(date__range=(first_day, last_day)),
        "store_id",
        "store__code",
        "store__name",
        "store__region__code",
    )
    for row in rows:
        row["store_code"] = row.pop("store__code")
        row["store_name"] = row.pop("store__name")
        row["region_code"] = row.pop("store__region__code")
    return rows


def company_metrics(*, first_day: dt.date, last_day: dt.date) -> dict:
    rows = _rollup(StoreDailyMetrics.objects.filter(date__range=(first_day, last_day)).annotate(all=Value(1)), "all")
    if not rows:
        return {
            "revenue": Decimal("0"),
            "rentals": 0,
            "vehicle_days_on_rent": 0,
            "fleet_days": 0,
            "utilisation": Decimal("0"),
            "average_daily_rate": Decimal("0"),
        }
    row = rows[0]
    row.pop("all")
    return row
