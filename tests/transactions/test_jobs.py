import pytest
from django.test import override_settings

from apps.jobs import registry
from apps.jobs.models import JobRun
from apps.jobs.services import job_start
from apps.transactions.models import EnrichedTransaction, IngestRun, Payment
from tests.transactions.delivery import GOOD_TRANSACTION_IDS, drop_payment_partitions, write_delivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_kinds_are_registered():
    kinds = registry.all_kinds()
    assert kinds["transactions.ingest"].params == {"ingest_run_id": int, "paths": list, "source_tz": str}
    assert "transactions.refresh_views" not in kinds  # the view is a plain one: nothing to refresh


def test_ingest_job_by_paths_and_a_later_fraud_score_shows_without_a_refresh(tmp_path):
    drop_payment_partitions()
    path = write_delivery(tmp_path / "d")
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path)):
        job = job_start(kind="transactions.ingest", parameters={"paths": str(path)})
    job.refresh_from_db()

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.result["rows_loaded"] == 14
    assert IngestRun.objects.get().status == IngestRun.Status.SUCCEEDED

    assert sorted(EnrichedTransaction.objects.values_list("id", flat=True)) == GOOD_TRANSACTION_IDS
    # A score written later by the payment-fraud job (as it writes them) is in the view at once.
    Payment.objects.filter(id=GOOD_TRANSACTION_IDS[0]).update(fraud_score=0.9)
    assert EnrichedTransaction.objects.get(id=GOOD_TRANSACTION_IDS[0]).fraud_score == 0.9


def test_ingest_job_with_a_bad_delivery_fails_with_the_reason(tmp_path):
    path = write_delivery(tmp_path / "d", transactions_header="id,date")
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path)):
        job = job_start(kind="transactions.ingest", parameters={"paths": str(path)})
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert "missing column(s)" in job.error
    assert not Payment.objects.exists()


def test_ingest_job_refuses_files_outside_the_ingest_root(tmp_path):
    path = write_delivery(tmp_path / "d")
    with override_settings(PAYMENTS_INGEST_ROOT=str(tmp_path / "root")):
        job = job_start(kind="transactions.ingest", parameters={"paths": str(path)})
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED and "must lie under" in job.error
    assert not IngestRun.objects.exists()
