import pytest
from django.test import override_settings
from django.urls import reverse

from apps.jobs.models import JobRun
from apps.transactions.models import IngestRun, Payment, RejectedRow
from tests.transactions.delivery import GOOD_TRANSACTION_IDS, drop_payment_partitions, write_delivery
from tests.transactions.factories import IngestRunFactory, RejectedRowFactory, RentalFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("name", ["ingestrun", "rejectedrow", "payment", "merchantcategory", "rental"])
def test_changelists_render_with_few_queries(back_office_client, django_assert_max_num_queries, name):
    RejectedRowFactory.create_batch(3)
    RentalFactory.create_batch(3)
    with django_assert_max_num_queries(12):
        response = back_office_client.get(reverse(f"admin:transactions_{name}_changelist"))
    assert response.status_code == 200


def test_ledgers_are_read_only(back_office_client):
    run = IngestRunFactory()
    assert back_office_client.get(reverse("admin:transactions_ingestrun_add")).status_code == 403
    response = back_office_client.post(
        reverse("admin:transactions_ingestrun_change", args=[run.pk]), {"status": "failed"}
    )
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == "queued"


def test_start_ingestion_from_the_admin_runs_the_job(back_office_client, tmp_path):
    drop_payment_partitions()
    write_delivery(tmp_path / "delivery")
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path)):
        response = back_office_client.post(
            reverse("admin:transactions_ingestrun_start"),
            {"paths": str(tmp_path / "delivery"), "source_tz": "UTC"},
        )
    assert response.status_code == 302
    run = IngestRun.objects.get()
    job = JobRun.objects.get(kind="transactions.ingest")
    # Celery is eager in tests: the job has run.
    assert job.status == JobRun.Status.SUCCEEDED and job.result["ingest_run_id"] == run.pk
    assert job.progress_done == job.progress_total
    run.refresh_from_db()
    assert run.status == IngestRun.Status.SUCCEEDED and run.started_by is not None
    assert sorted(Payment.objects.values_list("id", flat=True)) == GOOD_TRANSACTION_IDS

    # The action on the run starts the same files again: nothing is loaded twice.
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path)):
        back_office_client.post(
            reverse("admin:transactions_ingestrun_changelist"),
            {"action": "start_ingestion_again", "_selected_action": [run.pk]},
        )
    again = IngestRun.objects.exclude(pk=run.pk).get()
    assert again.status == IngestRun.Status.SUCCEEDED and again.rows_loaded == 0
    assert Payment.objects.count() == len(GOOD_TRANSACTION_IDS)


def test_start_ingestion_refuses_paths_outside_the_root(back_office_client, tmp_path):
    write_delivery(tmp_path / "delivery")
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path / "elsewhere")):
        response = back_office_client.post(
            reverse("admin:transactions_ingestrun_start"), {"paths": str(tmp_path / "delivery"), "source_tz": "UTC"}
        )
    assert response.status_code == 200
    assert "must lie under" in response.content.decode()
    assert not IngestRun.objects.exists() and not JobRun.objects.exists()


def test_an_analyst_cannot_start_an_ingestion(analyst_client):
    assert analyst_client.get(reverse("admin:transactions_ingestrun_start")).status_code == 403
    assert RejectedRow.objects.count() == 0


def test_the_payments_list_is_ordered_as_its_index_is(back_office_client):
    """Newest first as payment_newest_idx holds them (paid_at DESC NULLS LAST, then id), so a page
    is read from the index instead of sorting every payment."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.common.partitions import ensure_month_partitions
    from tests.transactions.factories import PaymentFactory

    ensure_month_partitions("transactions_payment", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    PaymentFactory.create_batch(2, paid_at=dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as queries:
        response = back_office_client.get(reverse("admin:transactions_payment_changelist"))
    assert response.status_code == 200
    # the rows of the page (the query that reads the listed columns)
    listed = [q["sql"] for q in queries.captured_queries if '"transactions_payment"."merchant_city"' in q["sql"]]
    assert listed and all(
        'ORDER BY "transactions_payment"."paid_at" DESC NULLS LAST, "transactions_payment"."id" ASC' in sql
        for sql in listed
    ), listed
