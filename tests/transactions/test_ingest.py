import datetime as dt
import io
import os
import select
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from apps.common.exceptions import ApplicationError
from apps.customers.cards import card_number_hmac
from apps.customers.models import Customer, PaymentCard
from apps.transactions.models import EnrichedTransaction, IngestRun, MerchantCategory, Payment, RejectedRow
from apps.transactions.services import ingest_run_create, ingest_run_execute
from tests import db_roles
from tests.transactions import delivery
from tests.transactions.delivery import (
    CARD_NUMBERS,
    CVVS,
    GOOD_TRANSACTION_IDS,
    LABEL_REJECTIONS,
    LEAKED_NUMBER,
    TRANSACTIONS,
    write_delivery,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, params=["sql", "columnar"])
def engine(request, settings, monkeypatch):
    """Every test runs on both engines of the transactions files (the killed runs' own processes
    read the environment)."""
    settings.PAYMENTS_INGEST_ENGINE = request.param
    monkeypatch.setenv("PAYMENTS_INGEST_ENGINE", request.param)
    return request.param


@pytest.fixture(autouse=True)
def fresh_partitions():
    delivery.drop_payment_partitions()
    yield


def ingest(path: Path, **kwargs) -> IngestRun:
    run = ingest_run_create(paths=[str(path)], **kwargs)
    return ingest_run_execute(run=run)


def test_every_defect_becomes_a_rejected_row_with_its_reason_and_line(tmp_path):
    run = ingest(write_delivery(tmp_path / "d"))

    assert run.status == IngestRun.Status.SUCCEEDED
    rejected = {
        (r.file_name, r.line_number): r.reason for r in RejectedRow.objects.filter(run=run).order_by("line_number")
    }
    expected = {("transactions_data.csv", line): reason for line, _, reason in TRANSACTIONS if reason}
    expected |= {("train_fraud_labels.json", n): reason for n, reason in LABEL_REJECTIONS.items()}
    assert rejected == expected
    assert sorted(Payment.objects.values_list("id", flat=True)) == GOOD_TRANSACTION_IDS
    # users 2 + cards 3 + mcc 2 + transactions 14 + labels 5 = 26 rows read;
    # mcc 5812 is already in the ISO list, so it counts as already loaded.
    assert (run.rows_read, run.rows_loaded, run.rows_rejected, run.rows_duplicate) == (26, 14, 11, 1)
    assert run.rows_read == run.rows_loaded + run.rows_rejected + run.rows_duplicate


def test_customers_and_cards_no_processor_file_delivered_are_left_alone(tmp_path):
    """Drivers and cards of the rental side have no processor id: the delivery loads as it
    would without them (the columnar engine read their NULL ids into its id arrays and failed)."""
    from tests.customers.factories import PaymentCardFactory

    card = PaymentCardFactory(customer__external_id=None)
    run = ingest(write_delivery(tmp_path / "d"))

    assert run.status == IngestRun.Status.SUCCEEDED
    assert (run.rows_read, run.rows_loaded, run.rows_rejected, run.rows_duplicate) == (26, 14, 11, 1)
    assert not Payment.objects.filter(card=card).exists()


def test_rejected_rows_explain_themselves_and_keep_the_masked_line(tmp_path):
    run = ingest(write_delivery(tmp_path / "d"))
    rows = {r.line_number: r for r in RejectedRow.objects.filter(run=run, file_name="transactions_data.csv")}

    assert rows[5].detail == "amount '$12.3x' is not an amount like $-77.00"
    assert rows[6].detail.startswith("date '2010-02-30 10:00:00' is not a date")
    assert rows[7].detail == "client_id 999 is not a known customer"
    assert rows[9].detail == "card_id 4525 belongs to another client than 825"
    assert rows[14].detail == "transaction id 7475327 already appears on line 2"
    assert rows[11].detail == "14 columns, expected 12"
    assert rows[11].raw_line.endswith(",************1111,***")
    assert rows[13].raw_line == (
        "7475338,2010-01-04 14:00:00,825,4524,$5.00,Swipe Transaction,59935,B\\xfceulah,ND,58523.0,5499,"
    )
    assert rows[5].raw_line == TRANSACTIONS[3][1]


def test_typed_rows_are_cleaned_masked_and_labelled(tmp_path):
    ingest(write_delivery(tmp_path / "d"))

    refund = Payment.objects.get(id=7475327)
    assert refund.amount == Decimal("-77.00")
    assert refund.paid_at == dt.datetime(2010, 1, 1, 0, 1, tzinfo=dt.UTC)
    assert (refund.method, refund.merchant_zip, refund.mcc_id, refund.errors) == ("swipe", "58523", "5499", [])
    assert refund.is_fraud is False
    online = Payment.objects.get(id=7475328)
    assert (online.method, online.merchant_city, online.merchant_state, online.merchant_zip) == (
        "online",
        "ONLINE",
        "",
        "",
    )
    assert online.is_fraud is True
    chip = Payment.objects.get(id=7475329)
    assert (chip.merchant_zip, chip.errors, chip.mcc_id) == ("02134", ["Bad PIN", "Insufficient Balance"], "5098")
    assert MerchantCategory.objects.get(code="5098").source == "file"

    customer = Customer.objects.get(external_id=825)
    assert (customer.birth_year, customer.gender, customer.credit_score) == (1966, "female", 787)
    assert (customer.yearly_income, customer.total_debt) == (Decimal("59696.00"), Decimal("127613.00"))
    assert (customer.latitude, customer.longitude) == (Decimal("34.15"), Decimal("-117.76"))
    # No street address anywhere; the city and postal area come from where the client pays in person.
    assert (customer.city, customer.postal_area) in {("Beulah", "585"), ("Beulah", "021")}
    card = PaymentCard.objects.get(external_id=4524)
    assert (card.customer_id, card.brand, card.card_type, card.last4) == (customer.pk, "visa", "debit", "0444")
    assert card.expires_on == dt.date(2022, 12, 31)
    assert card.opened_on == dt.date(2002, 9, 1)
    assert card.number_hmac == card_number_hmac(CARD_NUMBERS["4524"], settings.CARD_HMAC_KEY)
    assert PaymentCard.objects.get(external_id=4526).card_type == "credit"
    # Partitions were created for the two months, and the view shows their payments (nothing to refresh).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'transactions_payment'::regclass ORDER BY 1"
        )
        assert [r[0] for r in cursor.fetchall()] == ["transactions_payment_y2010m01", "transactions_payment_y2010m02"]
    assert sorted(EnrichedTransaction.objects.values_list("id", flat=True)) == GOOD_TRANSACTION_IDS
    # Hour of day and ISO day of week (Monday = 1) in UTC: Wednesday 2010-02-10 23:59, Friday 2010-01-01 00:01,
    # Saturday 2010-01-02 12:00.
    assert EnrichedTransaction.objects.filter(id=7475339).values_list("hour_of_day", "day_of_week").get() == (23, 3)
    assert EnrichedTransaction.objects.filter(id=7475327).values_list("hour_of_day", "day_of_week").get() == (0, 5)
    assert EnrichedTransaction.objects.filter(id=7475329).values_list("hour_of_day", "day_of_week").get() == (12, 6)


def test_running_the_same_delivery_again_loads_nothing_twice(tmp_path):
    path = write_delivery(tmp_path / "d")
    first = ingest(path)
    second = ingest(path)

    assert Payment.objects.count() == len(GOOD_TRANSACTION_IDS)
    assert second.rows_loaded == 0
    assert second.rows_read == first.rows_read
    assert second.rows_duplicate == first.rows_loaded + first.rows_duplicate
    assert second.rows_rejected == first.rows_rejected
    assert second.rows_read == second.rows_loaded + second.rows_rejected + second.rows_duplicate
    assert Customer.objects.count() == 2 and PaymentCard.objects.count() == 3


def test_a_later_delivery_into_existing_months_and_a_late_label(tmp_path):
    ingest(write_delivery(tmp_path / "a"))
    later = [
        "7475400,2010-01-20 10:00:00,826,4525,$20.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
        "7475401,2010-03-01 10:00:00,826,4525,$21.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
    ]
    run = ingest(
        write_delivery(
            tmp_path / "b", transactions=later, users=False, cards=False, mcc=False, labels={"7475327": "Yes"}
        )
    )

    assert run.status == IngestRun.Status.SUCCEEDED
    assert (run.rows_read, run.rows_loaded, run.rows_rejected, run.rows_duplicate) == (3, 3, 0, 0)
    assert Payment.objects.get(id=7475400).paid_at.month == 1  # existing January partition
    assert Payment.objects.get(id=7475401).paid_at.month == 3  # new March partition
    assert Payment.objects.get(id=7475327).is_fraud is True  # label of an earlier delivery's payment


def test_the_reject_pass_runs_only_when_the_database_refuses_a_row(tmp_path):
    ingest(write_delivery(tmp_path / "a"))
    clean = [
        "7475400,2010-01-20 10:00:00,826,4525,$20.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
        "7475401,2010-03-01 10:00:00,826,4525,$21.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
    ]
    mine = {"users": False, "cards": False, "mcc": False, "labels": False}
    run = ingest(write_delivery(tmp_path / "clean", transactions=clean, **mine))
    assert (run.rows_read, run.rows_loaded, run.rows_rejected, run.rows_duplicate) == (2, 2, 0, 0)
    assert not [key for key in run.timings if key.endswith(":reject") and key.startswith("transactions:")]

    # A refused row the reader cannot see (an unknown card) in an otherwise clean file.
    refused = ["7475402,2010-03-02 10:00:00,826,9999,$22.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", *clean]
    refused[1] = refused[1].replace("7475400", "7475403")
    refused[2] = refused[2].replace("7475401", "7475404")
    run = ingest(write_delivery(tmp_path / "refused", transactions=refused, **mine))
    assert (run.rows_read, run.rows_loaded, run.rows_rejected, run.rows_duplicate) == (3, 2, 1, 0)
    assert list(RejectedRow.objects.filter(run=run).values_list("line_number", "reason")) == [(2, "unknown_card")]
    assert [key for key in run.timings if key.endswith(":reject") and key.startswith("transactions:")]


def test_gzip_files_and_a_source_time_zone(tmp_path):
    run = ingest(write_delivery(tmp_path / "d", gzip_files=True), source_tz="America/Chicago")

    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.rows_loaded == 14
    # 2010-02-10 23:59 in Chicago (UTC-6) is 2010-02-11 05:59 UTC.
    assert Payment.objects.get(id=7475339).paid_at == dt.datetime(2010, 2, 11, 5, 59, tzinfo=dt.UTC)
    # 2010-01-01 00:01 in Chicago is still January in UTC.
    assert Payment.objects.get(id=7475327).paid_at == dt.datetime(2010, 1, 1, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc",
            "missing column(s): errors",
        ),
        (
            "id,date,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors,cvv",
            "unexpected column(s): cvv",
        ),
        (
            "id,when,client_id,card_id,amount,use_chip,merchant_id,merchant_city,merchant_state,zip,mcc,errors",
            "missing column(s): date; unexpected column(s): when",
        ),
    ],
)
def test_a_bad_header_fails_at_once_naming_the_columns_and_loads_nothing(tmp_path, header, message):
    path = write_delivery(tmp_path / "d", transactions_header=header)

    with pytest.raises(ApplicationError) as excinfo:
        ingest(path)

    assert message in excinfo.value.message
    assert "transactions_data.csv" in excinfo.value.message
    assert not IngestRun.objects.exists()
    assert not Customer.objects.exists() and not Payment.objects.exists() and not RejectedRow.objects.exists()


def test_a_bad_header_found_at_execution_fails_the_run_before_loading(tmp_path):
    path = write_delivery(tmp_path / "d")
    run = ingest_run_create(paths=[str(path)])
    (path / "users_data.csv").write_text("id,age\n1,2\n")

    with pytest.raises(ApplicationError, match=r"users_data\.csv: header is not the expected one"):
        ingest_run_execute(run=run)

    run.refresh_from_db()
    assert run.status == IngestRun.Status.FAILED and "missing column(s)" in run.error
    assert not Customer.objects.exists() and not Payment.objects.exists()


def test_the_command_reports_counts_and_refuses_a_bad_header(tmp_path):
    out = io.StringIO()
    call_command("ingest_payments", str(write_delivery(tmp_path / "d")), "--quiet", stdout=out)
    assert "read 26 = loaded 14 + rejected 11 + already loaded 1" in out.getvalue()

    bad = write_delivery(tmp_path / "bad", transactions_header="id,date")
    with pytest.raises(CommandError, match="missing column"):
        call_command("ingest_payments", str(bad), "--quiet", stdout=io.StringIO())


def test_unknown_files_and_paths_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ApplicationError, match="no delivery files found"):
        ingest_run_create(paths=[str(tmp_path)])
    with pytest.raises(ApplicationError, match="no such file"):
        ingest_run_create(paths=[str(tmp_path / "missing")])
    with pytest.raises(ApplicationError, match="Unknown time zone"):
        ingest_run_create(paths=[str(write_delivery(tmp_path / "d"))], source_tz="Mars/Olympus")


def test_no_card_number_or_cvv_reaches_the_database_or_the_output(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    bad_card = "4527,825,Visa,Debit,4000056655665556,13/2030,777,YES,1,$100,01/2020,2020,No"
    path = write_delivery(tmp_path / "d", cards=[*delivery.CARDS, bad_card])
    call_command("ingest_payments", str(path), "--quiet", stdout=out, stderr=err)

    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", *_pg_args()], capture_output=True, check=True, text=True
    ).stdout
    for number in [*CARD_NUMBERS.values(), LEAKED_NUMBER, "4000056655665556"]:
        assert number not in dump
        assert number not in out.getvalue() + err.getvalue()
    rejected_card = RejectedRow.objects.get(file_name="cards_data.csv")
    assert rejected_card.reason == "bad_value" and rejected_card.detail == "expires 13/2030 is not MM/YYYY"
    assert rejected_card.raw_line == "4527,825,Visa,Debit,************5556,13/2030,***,YES,1,$100,01/2020,2020,No"
    for raw in RejectedRow.objects.values_list("raw_line", flat=True):
        assert not any(cvv in raw.split(",") for cvv in [*CVVS.values(), "777", "987"])
    # Nothing of the run is left in staging.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ingest_staging'")
        assert cursor.fetchone()[0] == 0


def test_a_users_line_that_cannot_be_split_keeps_no_address(tmp_path):
    users = [*delivery.USERS, '900,30,65,1990,1,Male,"7 Broken Quote Road,40.0,-70.0,$1,$2,$3,700,1']
    run = ingest(write_delivery(tmp_path / "d", users=users))

    rejected = RejectedRow.objects.get(run=run, file_name="users_data.csv")
    assert rejected.reason == "bad_quoting"
    assert "Broken Quote Road" not in rejected.raw_line
    assert not RejectedRow.objects.filter(raw_line__contains="Rose Lane").exists()


def _pg_args() -> list[str]:
    s = connection.settings_dict
    args = ["-d", s["NAME"], "-U", s["USER"], "-h", s["HOST"] or "127.0.0.1"]
    if s["PORT"]:
        args += ["-p", str(s["PORT"])]
    return args


def _subprocess_env() -> dict:
    url = db_roles.app_database_url()
    return os.environ | {"DJANGO_SETTINGS_MODULE": "fleetops.settings.test", "DATABASE_URL": url}


def _start_and_kill_when_stalled(path: Path, stall_at: str) -> IngestRun:
    # The process's checkpoint callback stalls the run at `stall_at` and says so on stdout.
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.transactions.stalled_ingest", str(path), stall_at],
        cwd=ROOT,
        env=_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 90)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("stalled "):
            process.kill()
            pytest.fail(f"the run never reached {stall_at}: {process.stderr.read().decode()[-2000:]}")
        run = IngestRun.objects.get(pk=int(line.split()[1]))
        assert run.status == IngestRun.Status.RUNNING
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # The server ends the killed process's sessions (rolling back its open transaction) once it
    # sees the connections drop; wait for that before starting again.
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fleetops-ingest'")
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)
    return run


@pytest.mark.parametrize("stall_at", ["transactions_loaded", "before_labels"])
def test_a_killed_run_started_again_loads_every_row_exactly_once(tmp_path, stall_at):
    path = write_delivery(tmp_path / "d")

    killed = _start_and_kill_when_stalled(path, stall_at)
    committed = Payment.objects.count()
    # Killed inside the transactions file's transaction: nothing of it is visible; killed after
    # it: all of it is.
    assert committed == (0 if stall_at == "transactions_loaded" else len(GOOD_TRANSACTION_IDS))

    restarted = ingest(path)

    killed.refresh_from_db()
    assert killed.status == IngestRun.Status.FAILED and killed.phase == "interrupted"
    assert restarted.status == IngestRun.Status.SUCCEEDED
    assert sorted(Payment.objects.values_list("id", flat=True)) == GOOD_TRANSACTION_IDS
    assert restarted.rows_read == restarted.rows_loaded + restarted.rows_rejected + restarted.rows_duplicate
    assert restarted.rows_loaded + restarted.rows_duplicate == 14 + 1  # every good row once, in one run or the other
    assert dict(Payment.objects.values_list("id", "is_fraud")) == {
        7475327: False,
        7475328: True,
        7475329: False,
        7475339: True,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ingest_staging'")
        assert cursor.fetchone()[0] == 0


def test_the_run_passes_each_checkpoint_once_in_order(tmp_path):
    reached = []
    run = ingest_run_create(paths=[str(write_delivery(tmp_path / "d"))])

    ingest_run_execute(run=run, checkpoint=reached.append)

    assert reached == ["transactions_loaded", "before_labels"]


def test_month_tables_are_attached_with_the_parent_indexes_and_foreign_keys(tmp_path):
    ingest(write_delivery(tmp_path / "d"))

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'transactions_payment_y2010m01'")
        assert sorted(r[0] for r in cursor.fetchall()) == [
            "transactions_payment_y2010m01_card_id_paid_at_idx",
            "transactions_payment_y2010m01_customer_id_paid_at_idx",
            "transactions_payment_y2010m01_paid_at_id_idx",
            "transactions_payment_y2010m01_paid_at_id_idx1",
            "transactions_payment_y2010m01_pkey",
        ]
        # Each is taken over by the parent's index as it is (an index the attach had to build
        # would be a second one, and not partial where the parent's is).
        cursor.execute(
            "SELECT p.relname FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid "
            "JOIN pg_class p ON p.oid = h.inhparent "
            "WHERE i.indrelid = 'transactions_payment_y2010m01'::regclass ORDER BY 1"
        )
        assert [r[0] for r in cursor.fetchall()] == [
            "payment_card_time_idx",
            "payment_customer_time_idx",
            "payment_newest_frauds_idx",
            "payment_newest_idx",
            "transactions_payment_pkey",
        ]
        cursor.execute(
            "SELECT conname, contype, conparentid <> 0 FROM pg_constraint "
            "WHERE conrelid = 'transactions_payment_y2010m01'::regclass AND contype IN ('f', 'c') ORDER BY conname"
        )
        constraints = cursor.fetchall()
        # The foreign keys are the parent's (attached, not copies); the bound check is gone.
        assert [c for c in constraints if c[1] == "f"] == [
            ("transactions_payment_card_id_fkey", "f", True),
            ("transactions_payment_customer_id_fkey", "f", True),
            ("transactions_payment_ingest_run_id_fkey", "f", True),
            ("transactions_payment_mcc_fkey", "f", True),
        ]
        assert [c[0] for c in constraints if c[1] == "c"] == ["transactions_payment_method_valid"]
        cursor.execute(
            "SELECT relnamespace::regnamespace::text FROM pg_class WHERE relname LIKE 'transactions_payment_y%%'"
        )
        assert {r[0] for r in cursor.fetchall()} == {"public"}
        cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'ingest_staging'::regnamespace")
        assert cursor.fetchone()[0] == 0


def test_a_file_out_of_date_order_loads_every_row_once(tmp_path):
    # The lines are split between the two load workers at January's first line; March has lines
    # on both sides, so no worker owns its month table: its rows take the path through the
    # workers' default partitions into a partition the main connection creates.
    days = ["2010-03-02", "2010-01-03", "2010-02-04", "2010-01-05", "2010-03-06", "2010-02-07", "2010-01-08"]
    lines = [
        f"{7476000 + n},{day} 10:00:00,825,4524,${n}.50,Chip Transaction,59935,Beulah,ND,58523.0,5499,"
        for n, day in enumerate(days)
    ]
    run = ingest(write_delivery(tmp_path / "d", transactions=lines, labels={"7476001": "Yes", "7476004": "No"}))

    assert run.status == IngestRun.Status.SUCCEEDED
    files = {f["kind"]: f for f in run.sources}
    assert [files["transactions"][k] for k in ("rows_read", "loaded", "rejected", "duplicate")] == [7, 7, 0, 0]
    assert [files["labels"][k] for k in ("rows_read", "loaded", "rejected", "duplicate")] == [2, 2, 0, 0]
    assert run.rows_read == run.rows_loaded + run.rows_rejected + run.rows_duplicate
    paid = dict(Payment.objects.values_list("id", "paid_at"))
    assert {i: p.date().isoformat() for i, p in paid.items()} == {7476000 + n: d for n, d in enumerate(days)}
    assert dict(Payment.objects.filter(is_fraud__isnull=False).values_list("id", "is_fraud")) == {
        7476001: True,
        7476004: False,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'transactions_payment'::regclass ORDER BY 1"
        )
        assert [r[0] for r in cursor.fetchall()] == [
            "transactions_payment_y2010m01",
            "transactions_payment_y2010m02",
            "transactions_payment_y2010m03",
        ]


def test_the_jobs_recovery_sweep_fails_a_killed_run_and_drops_its_staging(tmp_path):
    """A run whose process died used to stay 'running', staging tables and all, until the next ingest."""
    from apps.jobs.services import job_runs_recover

    killed = _start_and_kill_when_stalled(write_delivery(tmp_path / "d"), "transactions_loaded")
    assert job_runs_recover()["ingest_runs_interrupted"] == [killed.pk]
    killed.refresh_from_db()
    assert killed.status == IngestRun.Status.FAILED and killed.phase == "interrupted"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ingest_staging'")
        assert cursor.fetchone()[0] == 0
    assert job_runs_recover()["ingest_runs_interrupted"] == []


def test_the_command_stopped_by_a_database_restart_prints_one_line_and_how_to_resume(tmp_path, monkeypatch):
    import psycopg

    from apps.transactions.ingest.run import PaymentsIngest

    def restarted(self):
        raise psycopg.OperationalError("terminating connection due to administrator command\nSSL SYSCALL error")

    def gone(self, *args, **kwargs):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(PaymentsIngest, "execute", restarted)
    monkeypatch.setattr(IngestRun, "refresh_from_db", gone)
    with pytest.raises(CommandError) as caught:
        call_command("ingest_payments", str(write_delivery(tmp_path / "d")), "--quiet", stdout=io.StringIO())
    message = str(caught.value)
    assert "\n" not in message
    assert "terminating connection due to administrator command" in message
    assert "Run the same command again to resume" in message


def test_local_times_a_dst_change_makes_ambiguous_or_skips_are_read_as_postgresql_reads_them(tmp_path):
    # In Chicago 2010-03-14 02:30 does not exist (clocks went 02:00 -> 03:00) and 2010-11-07 01:30
    # happened twice: both engines store what `timestamp AT TIME ZONE 'America/Chicago'` gives.
    times = {7476100: "2010-03-14 02:30:00", 7476101: "2010-11-07 01:30:00", 7476102: "2010-07-01 12:00"}
    lines = [f"{i},{t},825,4524,$1.00,Chip Transaction,59935,Beulah,ND,58523.0,5499," for i, t in sorted(times.items())]
    run = ingest(write_delivery(tmp_path / "d", transactions=lines, labels=False), source_tz="America/Chicago")

    assert (run.status, Payment.objects.count()) == (IngestRun.Status.SUCCEEDED, 3)
    with connection.cursor() as cursor:
        for payment_id, local in times.items():
            cursor.execute("SELECT %s::timestamp AT TIME ZONE 'America/Chicago'", [local])
            assert Payment.objects.get(id=payment_id).paid_at == cursor.fetchone()[0]
