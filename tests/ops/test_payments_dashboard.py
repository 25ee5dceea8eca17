"""The payments fraud dashboard's figures: computed when payments are loaded (not by the first
viewer), for every period and channel from two scans, equal to counting the payments directly."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.ops.selectors import payments as selectors
from apps.transactions.models import EnrichedTransaction
from tests.ops.world import build_world


def _direct(period: str, method: str, mcc: str = "") -> dict:
    rows = EnrichedTransaction.objects.all()
    if selectors.PERIODS[period]:
        newest = rows.aggregate(newest=Max("paid_at"))["newest"]
        rows = rows.filter(paid_at__gte=newest - dt.timedelta(days=selectors.PERIODS[period]))
    if method:
        rows = rows.filter(method=method)
    if mcc:
        rows = rows.filter(mcc=mcc)
    return rows.aggregate(
        payments=Count("id"),
        labelled=Count("id", filter=Q(is_fraud__isnull=False)),
        frauds=Count("id", filter=Q(is_fraud=True)),
        loss=Sum("amount", filter=Q(is_fraud=True, amount__gt=0)),
    )


@pytest.mark.django_db(transaction=True)
def test_the_ingest_hook_computes_the_dashboards_and_the_first_viewer_reads_them(client, role_user):
    from django.db import connection

    build_world(payments=True)  # loads payments and precomputes, as the ingest's hook does
    client.force_login(role_user("analyst"))
    for query in ("", "?mcc=5411", "?mcc=5732&period=90&method=online"):
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("ops:payments-fraud") + query)
        assert page.status_code == 200
        scans = [q["sql"] for q in queries.captured_queries if "enriched_transactions" in q["sql"]]
        assert scans == [], (query, scans)
    assert "5411 Grocery" in page.content.decode()  # the filter's choices

    # After the next ingest (its hook) the figures are computed again, not served stale.
    cache.set(selectors._dashboard_key(""), {"stale": True})
    selectors.payments_dashboards_precompute()
    figures = cache.get(selectors._dashboard_key(""))
    assert "stale" not in figures and set(figures) == {
        f"{p}:{m}" for p in selectors.PERIODS for m in ["", *selectors.METHODS]
    }
    for key, dashboard in figures.items():
        period, method = key.split(":")
        want = _direct(period, method)
        total = dashboard["totals"]
        got = {"payments": total["payments"], "labelled": total["labelled"], "frauds": total["frauds"]}
        assert got == {k: want[k] for k in got}, key
        assert total["loss"] == (want["loss"] or 0), key
        assert sum(h["payments"] for h in dashboard["hours"]) == want["payments"], key
        assert sum(m["payments"] for m in dashboard["months"]) == want["payments"], key
        assert sum(s["frauds"] for s in dashboard["categories"]) == want["frauds"], key
    online = figures["90:online"]["methods"]
    assert [m["payments"] for m in online if m["key"] != "online"] == [0, 0]

    # Every category's dashboards came from the same refresh, each equal to counting its payments.
    for mcc in ("5411", "5732"):
        own = cache.get(selectors._dashboard_key(mcc))
        assert set(own) == set(figures), mcc
        for key, dashboard in own.items():
            period, method = key.split(":")
            want = _direct(period, method, mcc)
            total = dashboard["totals"]
            got = {"payments": total["payments"], "labelled": total["labelled"], "frauds": total["frauds"]}
            assert got == {k: want[k] for k in got}, (mcc, key)
            assert total["loss"] == (want["loss"] or 0), (mcc, key)
            for chart in ("hours", "months", "methods"):
                assert sum(h["payments"] for h in dashboard[chart]) == want["payments"], (mcc, key, chart)
            assert sum(s["payments"] for s in dashboard["states"]) <= want["payments"], (mcc, key)  # the top ten
            assert [c["key"] for c in dashboard["categories"]] == ([mcc] if want["payments"] else []), (mcc, key)
            assert sum(e["payments"] for e in dashboard["errors"]) >= want["payments"], (mcc, key)  # one per error
    # The drill-down list takes its row count from those figures instead of counting the view.
    hour = next(h["key"] for h in figures["90:online"]["hours"] if h["frauds"])
    newest = EnrichedTransaction.objects.aggregate(newest=Max("paid_at"))["newest"]
    want = EnrichedTransaction.objects.filter(
        paid_at__gte=newest - dt.timedelta(days=90), method="online", hour_of_day=hour, is_fraud=True
    ).count()
    with CaptureQueriesContext(connection) as queries:
        drill = client.get(reverse("ops:payments") + f"?period=90&method=online&hour={hour}&fraud_only=on")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert drill.status_code == 200 and counts == [] and f">{want} rows" in drill.content.decode()

    # Figures lost from the cache (Redis flushed) are computed again by their first viewer, every
    # period and channel of the category in two scans.
    cache.delete_pattern("*ops:payments-*")
    with CaptureQueriesContext(connection) as queries:
        selectors.dashboard(period="30", method="chip", mcc="5411")
    scans = [q["sql"] for q in queries.captured_queries if "enriched_transactions" in q["sql"]]
    assert len(scans) == 2  # the breakdowns, the errors (the newest payment is read from the payments)
    assert cache.get(selectors._dashboard_key("5411"))["all:online"]["totals"]["payments"] == 50
