"""The columnar reader (issue 20) refuses the same lines, on the same line numbers, for the same
reasons and with the same details and masked text as today's reader."""

from pathlib import Path

import pytest
from psycopg import sql

from apps.transactions.ingest.checks import TransactionChecks
from apps.transactions.ingest.columnar import ColumnarReader
from apps.transactions.ingest.layout import TRANSACTION_COLUMNS
from apps.transactions.ingest.readers import CsvBlockReader
from tests.transactions.test_readers import CASES, GOOD, _line

HEADER = ",".join(TRANSACTION_COLUMNS)


def _both(path: Path, block_size: int = 1 << 12):
    today, columnar = [], []
    for _ in CsvBlockReader(
        path, columns=TRANSACTION_COLUMNS, marker="#m", on_reject=today.append, checks=TransactionChecks(),
        block_size=block_size,
    ):  # fmt: skip
        pass
    reader = ColumnarReader(path, marker="#m", on_reject=columnar.append, block_size=block_size)
    good_lines = [int(n) for lines, table in reader for n in lines]
    key = lambda r: r.line_number  # noqa: E731
    return sorted(today, key=key), sorted(columnar, key=key), good_lines, reader


@pytest.mark.parametrize(("changes", "reason"), CASES)
def test_columnar_and_today_refuse_the_same_lines(tmp_path, changes, reason):
    path = tmp_path / "transactions_data.csv"
    plain = _line(**changes)
    quoted = _line(**(changes | {"errors": '"Bad PIN,Bad CVV"'}))
    path.write_text("\n".join([HEADER, GOOD, plain, quoted, GOOD]) + "\n")
    today, columnar, good, _ = _both(path)
    assert columnar == today
    assert [r.reason for r in columnar] == ([reason, reason] if reason else [])
    assert good == ([2, 5] if reason else [2, 3, 4, 5])


def test_columnar_on_a_dirty_delivery(tmp_path):
    from apps.demo.payments.generator import payment_files_generate

    payment_files_generate(transactions=20_000, out=tmp_path, dirty_share=0.02, seed=7)
    today, columnar, good, reader = _both(tmp_path / "transactions_data.csv", block_size=1 << 16)
    assert len(today) > 50
    assert columnar == today
    assert len(good) + len(columnar) == reader.rows
    assert not set(good) & {r.line_number for r in columnar}


@pytest.mark.django_db(transaction=True)
def test_columnar_load_writes_what_todays_engine_writes(tmp_path):
    """Today's engine ingests a delivery with every kind of defect; the columnar path then reads
    the same transactions file against the references it left and binary-COPYs its rows into a
    twin of transactions_payment: the same rows, the same rejected lines, reasons and texts."""
    from django.db import connection

    from apps.transactions.ingest import columnar_copy
    from apps.transactions.ingest.columnar_load import Labels, References
    from apps.transactions.ingest.context import connect
    from apps.transactions.models import RejectedRow
    from apps.transactions.services import ingest_run_create, ingest_run_execute
    from tests.transactions import delivery

    delivery.drop_payment_partitions()
    folder = delivery.write_delivery(tmp_path / "d")
    run = ingest_run_execute(run=ingest_run_create(paths=[str(folder)]))
    expected = sorted(
        RejectedRow.objects.filter(run=run, file_name="transactions_data.csv").values_list(
            "line_number", "reason", "detail", "raw_line"
        )
    )
    found = []
    conn = connect()
    try:
        conn.execute("CREATE TEMP TABLE columnar_twin (LIKE transactions_payment)")
        labels = Labels.read(folder / "train_fraud_labels.json", marker="#m", on_reject=lambda r: None)
        result = columnar_copy.load(
            conn, folder / "transactions_data.csv", marker="#m", refs=References.load(conn), labels=labels,
            run_id=run.pk, on_reject=found.append, table_for=lambda month: sql.Identifier("columnar_twin"),
        )  # fmt: skip
        twin = conn.execute("SELECT * FROM columnar_twin ORDER BY id").fetchall()
    finally:
        conn.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM transactions_payment ORDER BY id")
        loaded = cursor.fetchall()
    assert twin == loaded
    assert result["loaded"] == len(loaded) > 0
    assert sorted((r.line_number, r.reason, r.detail, r.raw) for r in found) == expected


@pytest.mark.parametrize("batch", [700, 60])
def test_the_in_file_duplicate_check_finds_the_first_line_across_batches(batch):
    """Ids in any order, repeated within and across batches: each row gets the first earlier line
    with its id (0 when there is none), as a scan of the whole file would; also with batches
    small enough for a buffered spill file to have kept them from the disk reads."""
    import numpy as np

    from apps.transactions.ingest.columnar_load import SeenIds

    rng = np.random.default_rng(7)
    ids = np.concatenate([np.arange(1000, 4000), rng.integers(0, 5000, 3000)])  # sorted, then anything
    ids[1500:1600] = ids[1400:1500]  # a repeated stretch in the sorted part
    lines = np.arange(2, ids.size + 2)
    seen = SeenIds()
    got = np.concatenate(
        [seen.first_lines(ids[k : k + batch], lines[k : k + batch]) for k in range(0, ids.size, batch)]
    )
    seen.close()
    first: dict[int, int] = {}
    expected = []
    for value, line in zip(ids.tolist(), lines.tolist(), strict=True):
        expected.append(first.get(value, 0))
        first.setdefault(value, line)
    assert got.tolist() == expected
    assert (got > 0).sum() > 1000


def test_labels_in_sorted_runs_on_disk_find_every_label_of_a_batch():
    """Labels kept as sorted runs in a temporary file (memory flat whatever their number): a
    batch finds the label of each of its ids, in whichever run it is, and none for the others,
    whether the batch's ids are narrow (a file sorted by id) or spread over every run."""
    import numpy as np

    from apps.transactions.ingest.columnar_load import Labels

    rng = np.random.default_rng(11)
    ids = rng.choice(np.arange(1, 200_000), size=60_000, replace=False)
    fraud = rng.random(ids.size) < 0.3
    keys = ids * 2 + fraud
    Labels.STRIDE, stride = 16, Labels.STRIDE  # several samples per run
    try:
        labels = Labels.from_runs(keys[k : k + 7_000] for k in range(0, keys.size, 7_000))
        expected = dict(zip(ids.tolist(), fraud.tolist(), strict=True))
        for batch in (np.arange(50_000, 52_000), rng.integers(0, 210_000, 5_000), np.array([], dtype=np.int64)):
            got = labels.lookup(batch).to_pylist()
            assert got == [expected.get(i) for i in batch.tolist()]
        labels.close()
    finally:
        Labels.STRIDE = stride
    assert len(labels.runs) == 9
