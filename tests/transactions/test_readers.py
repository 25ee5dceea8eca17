import numpy as np
import pytest
from django.db import connection

from apps.transactions.ingest.checks import OrderTracker, TransactionChecks
from apps.transactions.ingest.layout import TRANSACTION_COLUMNS
from apps.transactions.ingest.masking import mask_line
from apps.transactions.ingest.readers import BlockCleaner

GOOD = "7475327,2010-01-01 00:01:00,1556,2972,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("1,4344676511950444,623,x", "1,************0444,***,x"),
        ("card 4344676511950444 cvv 623", "card ************0444 cvv 623"),
        ("amex 340000000000009;1234", "amex ************0009;***"),
        ("12345678901234567890 is 20 digits", "12345678901234567890 is 20 digits"),
        ("123456789012 is 12 digits", "123456789012 is 12 digits"),
        ("7475327,2010-01-01", "7475327,2010-01-01"),
    ],
)
def test_masking_in_python_and_in_sql_agree(db, raw, masked):
    assert mask_line(raw.encode()) == masked
    with connection.cursor() as cursor:
        cursor.execute("SELECT transactions_mask_pan(%s)", [raw])
        assert cursor.fetchone()[0] == masked


def _line(**changes) -> str:
    fields = GOOD.split(",")
    for name, value in changes.items():
        fields[TRANSACTION_COLUMNS.index(name)] = value
    return ",".join(fields)


CASES = [
    ({}, None),
    ({"amount": "$12.3x"}, "bad_amount"),
    ({"amount": "$1.234"}, "bad_amount"),
    ({"amount": "-$5"}, None),
    ({"amount": "$$5"}, "bad_amount"),
    ({"amount": "12345678901.00"}, "bad_amount"),
    ({"date": "2011-02-29 10:00:00"}, "bad_date"),
    ({"date": "2012-02-29 10:00"}, None),
    ({"date": "2010-13-01 10:00:00"}, "bad_date"),
    ({"date": "2010-01-01 24:00:00"}, "bad_date"),
    ({"date": "01/02/2010 10:00"}, "bad_date"),
    ({"id": "12a"}, "bad_value"),
    ({"id": ""}, "bad_value"),
    ({"client_id": "x"}, "bad_value"),
    ({"merchant_city": "Call 4344676511950444"}, "bad_value"),
    ({"zip": "ABC"}, "bad_value"),
    ({"zip": ""}, None),
    ({"errors": "Technical Glitch"}, None),
]


@pytest.mark.parametrize(("changes", "reason"), CASES)
def test_block_checks_and_line_checks_agree(changes, reason):
    """The numpy path (plain lines) and the one-by-one path (lines with a quoted field) apply
    the same rules."""
    plain = _line(**changes)
    quoted = _line(**(changes | {"errors": '"Bad PIN,Bad CVV"'}))
    for text in (plain, quoted):
        found = []
        cleaner = BlockCleaner(ncols=12, marker="#m", on_reject=found.append, checks=TransactionChecks())
        out = cleaner.clean((GOOD + "\n" + text + "\n").encode())
        assert [r.reason for r in found] == ([reason] if reason else []), text
        if reason:
            assert found[0].line_number == 3
            assert out.decode().splitlines()[1] == ",,,,,#m,,,,,,"


def test_structural_problems_are_found_in_blocks():
    found = []
    cleaner = BlockCleaner(ncols=12, marker="#m", on_reject=found.append, checks=TransactionChecks())
    block = "\n".join([GOOD, GOOD + ",extra", GOOD.replace("Beulah", '"Beulah'), "", GOOD]).encode() + b"\n"
    block += GOOD.replace("Beulah", "B\xfc").encode("latin-1") + b"\n"
    cleaner.clean(block)
    assert [(r.line_number, r.reason) for r in found] == [
        (3, "column_count"),
        (4, "bad_quoting"),
        (5, "column_count"),
        (7, "bad_encoding"),
    ]
    assert cleaner.rows == 6


def test_ids_out_of_order_become_duplicate_candidates():
    tracker = OrderTracker()
    tracker.feed(np.array([1, 2, 5, 3, 6]))
    tracker.feed(np.array([7, 5, 8]))
    assert tracker.ids().tolist() == [3, 5]
