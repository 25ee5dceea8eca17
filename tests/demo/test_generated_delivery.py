"""A generated delivery with every kind of bad row, end to end: the rejections match what the
generator wrote, kind by kind, and the counts balance."""

import pytest
from django.db.models import Count

from apps.demo.payments.generator import payment_files_generate
from apps.transactions.models import IngestRun, Payment, RejectedRow
from apps.transactions.services import ingest_run_create, ingest_run_execute
from tests.transactions.delivery import drop_payment_partitions

pytestmark = pytest.mark.django_db(transaction=True)


def test_generated_dirty_rows_are_rejected_kind_by_kind_and_the_counts_balance(tmp_path):
    drop_payment_partitions()
    result = payment_files_generate(transactions=4000, out=tmp_path, dirty_share=0.004, seed=11, gzip_output=True)
    run = ingest_run_execute(run=ingest_run_create(paths=[str(tmp_path)]))

    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.rows_read == run.rows_loaded + run.rows_rejected + run.rows_duplicate
    by_reason = dict(RejectedRow.objects.filter(run=run).values_list("reason").annotate(n=Count("id")))
    assert by_reason == result.dirty
    clean_transactions = result.transactions - sum(v for k, v in result.dirty.items() if k != "unknown_transaction")
    assert Payment.objects.count() == clean_transactions
    assert Payment.objects.filter(is_fraud__isnull=False).count() == result.labels - result.dirty["unknown_transaction"]
    assert Payment.objects.filter(is_fraud=True).count() == result.fraud_labelled
