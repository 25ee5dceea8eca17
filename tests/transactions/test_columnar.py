"""The columnar reader (issue 20) refuses the same lines, on the same line numbers, for the same
reasons and with the same details and masked text as today's reader."""

from pathlib import Path

import pytest

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
