import gzip
import json

import pytest
from django.core.management import call_command

from apps.demo.payments.generator import payment_files_generate
from apps.demo.payments.profiles import DIRTY_KINDS
from apps.demo.payments.reference import luhn_complete
from apps.transactions.ingest.layout import CARD_COLUMNS, TRANSACTION_COLUMNS, USER_COLUMNS, collect_files


def test_files_have_the_dataset_layout(tmp_path):
    result = payment_files_generate(transactions=5000, out=tmp_path, dirty_share=0.0, seed=1)

    assert [f.kind for f in collect_files([str(tmp_path)])] == ["mcc", "users", "cards", "labels", "transactions"]
    tx = (tmp_path / "transactions_data.csv").read_text().splitlines()
    assert tx[0] == ",".join(TRANSACTION_COLUMNS)
    assert len(tx) == 5001
    assert (tmp_path / "users_data.csv").read_text().splitlines()[0] == ",".join(USER_COLUMNS)
    assert (tmp_path / "cards_data.csv").read_text().splitlines()[0] == ",".join(CARD_COLUMNS)
    first = tx[1].split(",")
    assert first[1][:4] == "2010" and first[4].startswith("$") and first[5].endswith("Transaction")
    ids = [int(line.split(",", 1)[0]) for line in tx[1:]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    labels = json.loads((tmp_path / "train_fraud_labels.json").read_text())["target"]
    assert len(labels) == result.labels and set(labels.values()) <= {"Yes", "No"}
    assert 0 < result.fraud < 5000 * 0.01
    assert any(line.split(",")[7] == "ONLINE" for line in tx[1:])
    assert any(line.split(",")[4].startswith("$-") for line in tx[1:])
    assert any('"' in line for line in tx[1:])  # quoted multi-error lists
    mcc = json.loads((tmp_path / "mcc_codes.json").read_text())
    assert "5098" in mcc and "5812" in mcc


def test_every_dirty_kind_is_written_at_the_share(tmp_path):
    result = payment_files_generate(transactions=20_000, out=tmp_path, dirty_share=0.005, seed=3)

    assert set(result.dirty) == set(DIRTY_KINDS)
    for kind, count in result.dirty.items():
        assert 40 <= count <= 170, kind  # 100 expected per kind (duplicates a little fewer)


def test_gzip_and_the_command(tmp_path):
    call_command("make_payment_files", "--transactions", "300", "--out", str(tmp_path), "--gzip", "--seed", "5")

    with gzip.open(tmp_path / "transactions_data.csv.gz", "rb") as fh:
        assert fh.read().count(b"\n") == 301
    assert json.loads(gzip.decompress((tmp_path / "train_fraud_labels.json.gz").read_bytes()))["target"]


@pytest.mark.parametrize(
    ("payload", "number"),
    [
        ("411111111111111", "4111111111111111"),
        ("555555555555444", "5555555555554444"),
        ("37828224631000", "378282246310005"),
    ],
)
def test_card_numbers_get_a_luhn_check_digit(payload, number):
    assert luhn_complete(payload) == number


@pytest.mark.parametrize("share", [-0.1, 0.5])
def test_the_dirty_share_is_bounded(tmp_path, share):
    with pytest.raises(ValueError, match="dirty_share"):
        payment_files_generate(transactions=10, out=tmp_path, dirty_share=share)
