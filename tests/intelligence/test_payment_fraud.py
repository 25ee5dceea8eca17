import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from apps.alerts.models import OperationalEvent
from apps.common.exceptions import ApplicationError
from apps.common.partitions import ensure_month_partitions
from apps.intelligence.payment_fraud import (
    best_f1_threshold,
    classification_report,
    payment_fraud_run,
    payment_fraud_train,
)
from apps.jobs.models import JobRun
from apps.jobs.services import job_execute, job_start
from apps.transactions.models import Payment
from tests.customers.factories import PaymentCardFactory
from tests.transactions.factories import MerchantCategoryFactory


@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path


def make_payments(*, months: list[tuple[int, int]], per_month: int, labelled: bool, seed: int, start_id: int):
    """Payments whose fraud follows known patterns: online and large, or a bad CVV."""
    ensure_month_partitions("transactions_payment", dt.date(*months[0], 1), dt.date(*months[-1], 1))
    rng = np.random.default_rng(seed)
    cards = list(make_payments.cards)
    mccs = [MerchantCategoryFactory(code="5812"), MerchantCategoryFactory(code="5411", description="Grocery")]
    rows, next_id = [], start_id
    for year, month in months:
        for _ in range(per_month):
            card = cards[rng.integers(len(cards))]
            online = rng.random() < 0.3
            amount = float(np.round(rng.lognormal(3.5, 1.0), 2))
            bad_cvv = rng.random() < 0.03
            fraud = (online and amount > 120 and rng.random() < 0.7) or (bad_cvv and rng.random() < 0.6)
            fraud = fraud or rng.random() < 0.002
            rows.append(
                Payment(
                    id=next_id,
                    paid_at=dt.datetime(year, month, 1 + int(rng.integers(27)), int(rng.integers(24)), tzinfo=dt.UTC),
                    customer_id=card.customer_id,
                    card=card,
                    amount=Decimal(str(amount)),
                    method="online" if online else "chip",
                    merchant_id=int(rng.integers(1000)),
                    merchant_state="CA" if rng.random() < 0.8 else "NY",
                    mcc=mccs[int(rng.integers(2))],
                    errors=["Bad CVV"] if bad_cvv else [],
                    is_fraud=bool(fraud) if labelled else None,
                )
            )
            next_id += 1
    Payment.objects.bulk_create(rows)
    return rows


@pytest.fixture
def labelled(db):
    make_payments.cards = [PaymentCardFactory(opened_on=dt.date(2020, 1, 1)) for _ in range(30)]
    months = [(2025, m) for m in range(7, 13)]
    return make_payments(months=months, per_month=600, labelled=True, seed=3, start_id=1)


def test_classification_report_known_answers():
    report = classification_report(
        y_true=[1, 0, 1, 0], scores=[0.9, 0.8, 0.3, 0.1], flagged=[1, 1, 0, 0], amounts=[100, 50, -20, 10]
    )
    assert report["precision"] == 0.5 and report["recall"] == 0.5
    assert (report["loss_caught"], report["loss_total"], report["loss_caught_share"]) == (100.0, 120.0, 0.8333)
    assert report["pr_auc"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    assert best_f1_threshold([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.7)


@pytest.mark.django_db
def test_training_splits_by_time_and_beats_the_rule_baseline(labelled):
    model = payment_fraud_train(until=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    split = model["split"]
    assert split["test_months"] == ["2025-12"]
    assert split["train_months"] == ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11"]
    assert split["train_rows"] + split["valid_rows"] + split["test_rows"] == len(labelled)
    metrics = model["metrics"]
    assert metrics["model"]["fraud"] == metrics["rules"]["fraud"] > 5
    assert metrics["model"]["pr_auc"] > 0.6 > metrics["base_rate"]
    assert metrics["model"]["pr_auc"] > metrics["rules"]["pr_auc"]
    assert 0 < model["threshold"] < 1
    assert metrics["model"]["recall"] > 0.5
    assert "err_cvv" in model["top_features"] or "is_online" in model["top_features"]


@pytest.mark.django_db
def test_run_scores_new_payments_and_opens_events_for_risky_clients(labelled, django_assert_max_num_queries):
    fresh = make_payments(months=[(2026, 1)], per_month=400, labelled=False, seed=4, start_id=100_000)
    with django_assert_max_num_queries(70):  # about 8 per month of payments (7 here), never per payment
        result = payment_fraud_run(retrain=True, as_of=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert result["trained"] is True
    assert result["scoring"]["scored"] == len(labelled) + len(fresh)
    assert not Payment.objects.filter(fraud_score__isnull=True).exists()
    risky = Payment.objects.filter(paid_at__gte=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).order_by("-fraud_score")[0]
    assert risky.method == "online" or risky.errors == ["Bad CVV"]
    events = OperationalEvent.objects.filter(event_type="fraud_risk", entity_type="customers.customer")
    assert 0 < events.count() <= 25
    assert result["events"]["opened"] == events.count()
    assert {e.metadata["sources"].keys() == {"intelligence.payment_fraud"} for e in events} == {True}


@pytest.mark.django_db
def test_too_few_labels_fail_the_job_with_a_clear_error(django_capture_on_commit_callbacks):
    from tests.jobs import kinds  # noqa: F401

    with django_capture_on_commit_callbacks(execute=True):
        run = job_start(kind="intelligence.payment_fraud", parameters={"retrain": True})
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("ApplicationError: no labelled payments to train on")
    with pytest.raises(ApplicationError):
        payment_fraud_train()
    assert JobRun.objects.filter(status="succeeded").count() == 0
    assert job_execute(run_id=run.pk) is None


@pytest.mark.django_db(transaction=True)
def test_an_ingestion_that_loads_payments_queues_one_payment_fraud_run(tmp_path):
    """transactions sends its payments_ingested hook; the intelligence app, connected in its
    AppConfig.ready, queues the scoring run. A delivery that loads nothing new queues none."""
    from apps.intelligence.payment_fraud import payments_scoring_requested
    from apps.transactions.hooks import payments_ingested
    from apps.transactions.services import ingest_run_create, ingest_run_execute
    from tests.transactions import delivery

    assert payments_scoring_requested in payments_ingested.receivers
    delivery.drop_payment_partitions()
    path = delivery.write_delivery(tmp_path / "d")

    first = ingest_run_execute(run=ingest_run_create(paths=[str(path)]))
    assert first.rows_loaded > 0
    assert list(JobRun.objects.filter(kind="intelligence.payment_fraud").values_list("trigger", flat=True)) == ["event"]

    again = ingest_run_execute(run=ingest_run_create(paths=[str(path)]))
    assert again.rows_loaded == 0
    assert JobRun.objects.filter(kind="intelligence.payment_fraud").count() == 1
