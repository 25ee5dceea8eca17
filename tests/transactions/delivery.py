"""Hand-built card-payment deliveries for the pipeline tests: every line is written out, so each
expected count and line number is read off the file itself."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from django.db import connection

from apps.transactions.ingest.layout import CARD_COLUMNS, TRANSACTION_COLUMNS, USER_COLUMNS

CARD_NUMBERS = {"4524": "4344676511950444", "4525": "5500005555555559", "4526": "340000000000009"}
CVVS = {"4524": "623", "4525": "321", "4526": "9876"}
LEAKED_NUMBER = "4111111111111111"  # appears in a malformed transactions line

USERS = [
    "825,53,66,1966,11,Female,462 Rose Lane,34.15,-117.76,$29278,$59696,$127613,787,5",
    "826,40,67,1979,3,Male,12 Oak Street,40.71,-74.01,$20000,$41000,$5000,702,1",
]
CARDS = [
    f"4524,825,Visa,Debit,{CARD_NUMBERS['4524']},12/2022,{CVVS['4524']},YES,2,$24295,09/2002,2008,No",
    f"4525,826,Mastercard,Credit,{CARD_NUMBERS['4525']},01/2024,{CVVS['4525']},NO,1,$9000,03/2010,2015,No",
    f"4526,825,Amex,Credit,{CARD_NUMBERS['4526']},07/2025,{CVVS['4526']},YES,1,$12000,05/2012,2016,No",
]
MCC = {"5812": "Eating Places and Restaurants", "5098": "Medical Supplies Wholesale (processor code)"}

# (file line, line text, expected rejection reason or None). Line 1 is the header.
TRANSACTIONS = [
    (2, "7475327,2010-01-01 00:01:00,825,4524,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", None),
    (3, "7475328,2010-01-01 10:00:00,826,4525,$14.57,Online Transaction,11111,ONLINE,,,5812,", None),
    (
        4,
        "7475329,2010-01-02 12:00:00,825,4526,$80.00,Chip Transaction,59935,Beulah,ND,2134.0,5098,"
        '"Bad PIN,Insufficient Balance"',
        None,
    ),
    (5, "7475330,2010-01-03 08:00:00,825,4524,$12.3x,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", "bad_amount"),
    (6, "7475331,2010-02-30 10:00:00,825,4524,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", "bad_date"),
    (7, "7475332,2010-01-04 09:00:00,999,4524,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", "unknown_client"),
    (8, "7475333,2010-01-04 09:30:00,825,9999,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,", "unknown_card"),
    (
        9,
        "7475334,2010-01-04 10:00:00,825,4525,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
        "card_client_mismatch",
    ),
    (10, "7475335,2010-01-04 11:00:00,825,4524,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,9990,", "unknown_mcc"),
    (
        11,
        "7475336,2010-01-04 12:00:00,825,4524,$5.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,"
        f",{LEAKED_NUMBER},987",
        "column_count",
    ),
    (12, '7475337,2010-01-04 13:00:00,825,4524,$5.00,Swipe Transaction,59935,"Beulah,ND,58523.0,5499,', "bad_quoting"),
    (
        13,
        "7475338,2010-01-04 14:00:00,825,4524,$5.00,Swipe Transaction,59935,B\xfceulah,ND,58523.0,5499,",
        "bad_encoding",
    ),
    (
        14,
        "7475327,2010-01-05 00:01:00,825,4524,$-77.00,Swipe Transaction,59935,Beulah,ND,58523.0,5499,",
        "duplicate_in_file",
    ),
    (15, "7475339,2010-02-10 23:59:00,826,4525,$250.00,Chip Transaction,22222,Houston,TX,77002.0,5812,Bad CVV", None),
]
LABELS = {"7475327": "No", "7475328": "Yes", "7475329": "No", "7475339": "Yes", "9999999": "Yes"}
LABEL_REJECTIONS = {5: "unknown_transaction"}  # entry position -> reason

GOOD_TRANSACTION_IDS = [7475327, 7475328, 7475329, 7475339]


def write_delivery(
    directory: Path,
    *,
    transactions=None,
    users=None,
    cards=None,
    mcc=None,
    labels=None,
    gzip_files: bool = False,
    transactions_header: str | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes) -> None:
        if gzip_files:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)

    def csv_file(header: list[str], lines: list[str], header_text: str | None = None) -> bytes:
        text = (header_text or ",".join(header)) + "\n" + "".join(line + "\n" for line in lines)
        # Lines are written as latin-1 so a test can carry bytes that are not UTF-8 (\xfc).
        return text.encode("latin-1")

    if users is not False:
        write("users_data.csv", csv_file(USER_COLUMNS, USERS if users is None else users))
    if cards is not False:
        write("cards_data.csv", csv_file(CARD_COLUMNS, CARDS if cards is None else cards))
    if mcc is not False:
        write("mcc_codes.json", json.dumps(MCC if mcc is None else mcc).encode())
    if transactions is not False:
        lines = [line for _, line, _ in TRANSACTIONS] if transactions is None else transactions
        write("transactions_data.csv", csv_file(TRANSACTION_COLUMNS, lines, transactions_header))
    if labels is not False:
        write("train_fraud_labels.json", json.dumps({"target": LABELS if labels is None else labels}).encode())
    return directory


def drop_payment_partitions() -> None:
    """Tests start without month partitions, so a load takes the fresh-partition path."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'transactions_payment'::regclass"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')
