"""What every ops view shares: the staff check, the role, the period and list helpers."""

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.functional import cached_property

staff_required = user_passes_test(lambda u: u.is_active and u.is_staff, login_url=reverse_lazy("admin:login"))
PERIODS = (7, 30, 90, 365)
# The maintenance forecast's urgencies, as the fleet and maintenance filters offer them.
URGENCY_CHOICES = [("", "Any urgency"), ("overdue", "Overdue"), ("due_soon", "Due soon"), ("planned", "Planned"),
                   ("ok", "OK")]  # fmt: skip


def period_days(request, default: int = 30) -> int:
    try:
        days = int(request.GET.get("days", default))
    except ValueError:
        return default
    return days if days in PERIODS else default


def require(allowed: bool, message: str) -> None:
    """Refuses an action the user's role may not take (the friendly 403 page says why)."""
    if not allowed:
        raise PermissionDenied(message)


@dataclass(frozen=True)
class Column:
    """One column of a list: the row key (dotted for attributes), its heading, how it is shown
    (a filter of apps.common.templatetags.fmt, or "text"), and what sorting by it orders on."""

    key: str
    label: str
    fmt: str = "text"
    sort: str | None = None
    link: str | None = None  # a URL pattern filled from the row: "/ops/fleet/{vehicle_id}/"

    @property
    def numeric(self) -> bool:
        return self.fmt in {"thousands", "money", "usd", "pct", "km", "decimal", "kmh", "duration"}


def value_of(row: Any, key: str) -> Any:
    for part in key.split("."):
        if row is None:
            return None
        row = row.get(part) if isinstance(row, dict) else getattr(row, part, None)
        if callable(row):
            row = row()
    return row


class KnownCountPaginator(Paginator):
    """Takes the number of rows when the caller knows it: counting millions of rows costs more
    than showing a page of them."""

    def __init__(self, *args, known_count: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        return super().count if self.known_count is None else self.known_count


@dataclass
class ListPage:
    """Sorting (?sort=key or -key, only on the columns that allow it), pagination (?page=) and
    CSV export (?format=csv) of one list, a queryset or a list of dicts."""

    rows: QuerySet | list
    columns: list[Column]
    default_sort: str
    filename: str
    per_page: int = 50
    # Called with a page's rows (a list) before they are shown or exported: adds what the list
    # query does not carry (e.g. masked cards), one query per page.
    decorate: Callable[[list], None] | None = None
    csv_limit: int = 100_000
    # The number of rows when known without counting them (e.g. from precomputed figures).
    count: int | None = None

    def sorted_rows(self, request):
        sortable = {c.key: c.sort for c in self.columns if c.sort}
        wanted = request.GET.get("sort", self.default_sort)
        descending = wanted.startswith("-")
        key = wanted.lstrip("-")
        if key not in sortable:
            wanted, descending, key = (
                self.default_sort,
                self.default_sort.startswith("-"),
                self.default_sort.lstrip("-"),
            )
        self.sort = ("-" if descending else "") + key
        target = sortable.get(key)
        if target is None:
            return self.rows
        if isinstance(self.rows, QuerySet):
            order = F(target).desc(nulls_last=True) if descending else F(target).asc(nulls_last=True)
            return self.rows.order_by(order, "pk")
        present = [r for r in self.rows if value_of(r, target) is not None]
        missing = [r for r in self.rows if value_of(r, target) is None]
        return sorted(present, key=lambda r: value_of(r, target), reverse=descending) + missing

    def response(self, request, template: str, context: dict) -> HttpResponse:
        rows = self.sorted_rows(request)
        if request.GET.get("format") == "csv":
            if self.decorate:
                rows = list(rows[: self.csv_limit])
                self.decorate(rows)
            return csv_response(self.filename, self.columns, rows)
        page = KnownCountPaginator(rows, self.per_page, known_count=self.count).get_page(request.GET.get("page"))
        if self.decorate:
            page.object_list = list(page.object_list)
            self.decorate(page.object_list)
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            **context,
            "list": {
                "columns": self.columns,
                "page": page,
                "sort": self.sort,
                "query": query.urlencode(),
                "csv_query": _with(query, format="csv"),
            },
        }
        template_name = template
        if request.headers.get("HX-Request") and request.GET.get("partial") == "table":
            template_name = "ops/_table.html"
        return render(request, template_name, context)


def _with(query, **values) -> str:
    copy = query.copy()
    for key, value in values.items():
        copy[key] = value
    return copy.urlencode()


def csv_response(filename: str, columns: list[Column], rows: Iterable) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{timezone.localdate()}.csv"'
    writer = csv.writer(response)
    writer.writerow([c.label for c in columns])
    for row in rows.iterator(chunk_size=2000) if isinstance(rows, QuerySet) else rows:
        writer.writerow([_csv_value(value_of(row, c.key)) for c in columns])
    return response


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
            value = timezone.localtime(value)
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value
