"""The columnar path's second half (issue 20 prototype, not wired into the run): the rows that
passed `columnar.ColumnarReader` are typed with Arrow compute, checked against in-memory id sets
of customers, cards and merchant categories (the database's reasons and details, in the same
order as the `checked` view of transactions.sql), labelled by a hash lookup on the batch, and
encoded as PostgreSQL binary COPY rows with numpy, ready for a COPY into month tables.

Not covered yet (so the run keeps today's engine): payments already loaded by an earlier run,
a source time zone other than UTC, the staging of labels and rejects for exactly-once."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from apps.transactions.ingest.checks import LabelChecks
from apps.transactions.ingest.masking import mask_text
from apps.transactions.ingest.readers import LabelsReader, Rejection

PAYMENT_COLUMNS = [
    "id", "paid_at", "customer_id", "card_id", "amount", "method", "merchant_id", "merchant_city",
    "merchant_state", "merchant_zip", "mcc", "errors", "is_fraud", "ingest_run_id",
]  # fmt: skip
METHODS = {"Swipe Transaction": "swipe", "Chip Transaction": "chip", "Online Transaction": "online"}
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
_PG_EPOCH_US = 946_684_800 * 1_000_000
_VARCHAR_OID = 1043


def _sorted_lookup(keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the sorted `keys` of each query value, and whether it is there."""
    if keys.size == 0:
        return np.zeros(query.size, dtype=np.int64), np.zeros(query.size, dtype=bool)
    at = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return at, keys[at] == query


@dataclass
class References:
    """Customers, cards and merchant categories as sorted arrays: the reference checks and the
    id lookups of the load happen on the batch, not as joins in the database."""

    customer_keys: np.ndarray
    customer_ids: np.ndarray
    card_keys: np.ndarray
    card_ids: np.ndarray
    card_customers: np.ndarray
    mcc_codes: pa.Array

    @classmethod
    def load(cls, conn) -> References:
        def arrays(query: str, width: int) -> list[np.ndarray]:
            rows = conn.execute(query).fetchall()
            data = np.array(rows, dtype=np.int64).reshape(-1, width)
            order = np.argsort(data[:, 0], kind="stable")
            return [data[order, k] for k in range(width)]

        customer_keys, customer_ids = arrays("SELECT external_id, id FROM customers_customer", 2)
        card_keys, card_ids, card_customers = arrays(
            "SELECT external_id, id, customer_id FROM customers_paymentcard", 3
        )
        codes = [row[0] for row in conn.execute("SELECT code FROM transactions_merchantcategory").fetchall()]
        return cls(customer_keys, customer_ids, card_keys, card_ids, card_customers, pa.array(codes, pa.string()))


class Labels:
    """The labels file as two sorted arrays (id, is_fraud): a label is a binary search on the
    batch's ids instead of a 188 MB hash table probed per row in PostgreSQL."""

    def __init__(self, ids: np.ndarray, fraud: np.ndarray):
        order = np.argsort(ids, kind="stable")
        self.ids, self.fraud = ids[order], fraud[order]

    @classmethod
    def read(cls, path: Path, *, marker: str, on_reject: Callable[[Rejection], None]) -> Labels:
        reader = LabelsReader(path, marker=marker, on_reject=on_reject, checks=LabelChecks())
        options = pacsv.ConvertOptions(column_types={"id": pa.string(), "label": pa.string()})
        ids, fraud = [], []
        for block in reader:
            table = pacsv.read_csv(
                pa.py_buffer(block), read_options=pacsv.ReadOptions(column_names=["id", "label"]),
                convert_options=options,
            )  # fmt: skip
            table = table.filter(pc.not_equal(table["label"], marker))
            ids.append(pc.cast(table["id"], pa.int64()).to_numpy(zero_copy_only=False))
            fraud.append(pc.equal(table["label"], "Yes").to_numpy(zero_copy_only=False))
        if not ids:
            return cls(np.empty(0, np.int64), np.empty(0, bool))
        return cls(np.concatenate(ids), np.concatenate(fraud))

    def lookup(self, ids: np.ndarray) -> pa.Array:
        at, found = _sorted_lookup(self.ids, ids)
        return pa.array(self.fraud[at], mask=~found)


def raw_line(fields: list[str]) -> str:
    """The text RejectedRow keeps of a row the database-side checks refuse, as the checked view
    builds it: fields joined by commas, errors quoted when it holds a comma, card numbers masked."""
    *head, errors = fields
    return mask_text(",".join([*head, f'"{errors}"' if "," in errors else errors]))


class BatchTyper:
    """Types the batches of one transactions file, in file order; `rejects` the rows the database
    would refuse, with its reasons and details."""

    def __init__(self, refs: References, labels: Labels | None, *, run_id: int, on_reject: Callable[[Rejection], None]):
        self.refs = refs
        self.labels = labels
        self.run_id = run_id
        self.on_reject = on_reject
        self.max_seen = -1
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []  # per batch: its ids sorted, their lines
        self.rejected = 0

    def _first_lines(self, ids: np.ndarray, lines: np.ndarray) -> dict[int, int]:
        """Rows whose id appeared on an earlier line of the file: position -> first line."""
        running = np.maximum.accumulate(ids) if ids.size else ids
        before = np.concatenate(([self.max_seen], np.maximum(running[:-1], self.max_seen))) if ids.size else ids
        found: dict[int, int] = {}
        for position in np.flatnonzero(ids <= before).tolist():
            value = int(ids[position])
            earlier = [int(lines[:position][ids[:position] == value].min())] if (ids[:position] == value).any() else []
            for keys, key_lines in self.seen:
                lo, hi = np.searchsorted(keys, value), np.searchsorted(keys, value, side="right")
                if hi > lo:
                    earlier.append(int(key_lines[lo:hi].min()))
            if earlier:
                found[position] = min(earlier)
        if ids.size:
            self.max_seen = max(self.max_seen, int(running[-1]))
            order = np.argsort(ids, kind="stable")
            self.seen.append((ids[order], lines[order]))
        return found

    def batch(self, lines: np.ndarray, table: pa.Table) -> pa.Table:
        """The typed rows of the batch (PAYMENT_COLUMNS) that pass the reference checks."""
        refs = self.refs
        ids = pc.cast(table["id"], pa.int64()).to_numpy(zero_copy_only=False)
        client = pc.cast(table["client_id"], pa.int64()).to_numpy(zero_copy_only=False)
        card = pc.cast(table["card_id"], pa.int64()).to_numpy(zero_copy_only=False)
        at_customer, known_client = _sorted_lookup(refs.customer_keys, client)
        at_card, known_card = _sorted_lookup(refs.card_keys, card)
        customer_id = refs.customer_ids[at_customer] if refs.customer_ids.size else at_customer
        card_id = refs.card_ids[at_card] if refs.card_ids.size else at_card
        card_owner = refs.card_customers[at_card] if refs.card_customers.size else at_card
        known_mcc = pc.is_in(table["mcc"], value_set=refs.mcc_codes).to_numpy(zero_copy_only=False)
        method_at = pc.index_in(table["use_chip"], value_set=pa.array(list(METHODS)))
        known_method = pc.is_valid(method_at).to_numpy(zero_copy_only=False)
        duplicates = self._first_lines(ids, lines)
        reasons = [
            (~known_client, "unknown_client"),
            (known_client & ~known_card, "unknown_card"),
            (known_client & known_card & (card_owner != customer_id), "card_client_mismatch"),
            (~known_mcc, "unknown_mcc"),
            (~known_method, "bad_value"),
        ]
        refused = np.zeros(ids.size, dtype=bool)
        refused[list(duplicates)] = True
        for mask, _ in reasons:
            refused |= mask
        if refused.any():
            self._reject(table, lines, refused, duplicates, reasons)
        good = pa.array(~refused)
        table = table.filter(good)
        keep = ~refused
        return self._typed(table, ids[keep], customer_id[keep], card_id[keep], pc.filter(method_at, good))

    def _reject(self, table, lines, refused, duplicates, reasons) -> None:
        columns = table.column_names
        for position in np.flatnonzero(refused).tolist():
            row = {c: table[c][position].as_py() for c in columns}
            client, card, mcc, use_chip = row["client_id"], row["card_id"], row["mcc"], row["use_chip"]
            empty = "(empty)"
            if position in duplicates:
                reason = "duplicate_in_file"
                detail = f"transaction id {row['id']} already appears on line {duplicates[position]}"
            else:
                reason = next(name for mask, name in reasons if mask[position])
                detail = {
                    "unknown_client": f"client_id {client} is not a known customer",
                    "unknown_card": f"card_id {card} is not a known card",
                    "card_client_mismatch": f"card_id {card} belongs to another client than {client}",
                    "unknown_mcc": f"mcc {mcc or empty} is neither an ISO 18245 code nor in the delivery's MCC file",
                    "bad_value": f"use_chip {use_chip or empty} is not a Swipe, Chip or Online Transaction",
                }[reason]
            self.rejected += 1
            self.on_reject(Rejection(int(lines[position]), reason, mask_text(detail), raw_line(list(row.values()))))

    def _typed(self, table: pa.Table, ids, customer_id, card_id, method_at) -> pa.Table:
        date = pc.replace_substring(table["date"], "T", " ")
        date = pc.if_else(pc.equal(pc.utf8_length(date), 16), pc.binary_join_element_wise(date, ":00", ""), date)
        paid_at = pc.strptime(date, format="%Y-%m-%d %H:%M:%S", unit="us")
        zip_code = table["zip"]
        float_like = pc.and_(pc.equal(pc.utf8_length(zip_code), 7), pc.ends_with(zip_code, ".0"))
        # left(lpad(split_part(zip, '.', 1), 5, '0'), 10): lpad also cuts a longer text to 5.
        padded = pc.utf8_slice_codeunits(pc.utf8_lpad(_before_dot(zip_code), 5, "0"), 0, 5)
        merchant_zip = pc.if_else(
            pc.equal(zip_code, ""), "", pc.if_else(float_like, pc.utf8_slice_codeunits(zip_code, 0, 5), padded)
        )
        n = table.num_rows
        labels = self.labels.lookup(ids) if self.labels is not None else pa.nulls(n, pa.bool_())
        return pa.table(
            {
                "id": pa.array(ids),
                "paid_at": paid_at,
                "customer_id": pa.array(customer_id),
                "card_id": pa.array(card_id),
                "amount": pc.cast(pc.replace_substring(table["amount"], "$", ""), pa.decimal128(12, 2)),
                "method": pc.take(pa.array(list(METHODS.values())), method_at),
                "merchant_id": pc.cast(table["merchant_id"], pa.int64()),
                "merchant_city": pc.utf8_slice_codeunits(table["merchant_city"], 0, 100),
                "merchant_state": pc.utf8_slice_codeunits(table["merchant_state"], 0, 100),
                "merchant_zip": merchant_zip,
                "mcc": table["mcc"],
                "errors": table["errors"],
                "is_fraud": labels,
                "ingest_run_id": pa.array(np.full(n, self.run_id, dtype=np.int64)),
            }
        )


def _before_dot(column):
    """The text before the first '.' (split_part(zip, '.', 1))."""
    return pc.replace_substring_regex(column, r"\..*$", "")
