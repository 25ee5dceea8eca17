"""The columnar engine's second half (issue 20): the rows that passed `columnar.ColumnarReader`
are typed with Arrow compute (the source time zone included), checked against in-memory id sets
of customers, cards and merchant categories and against the file's earlier lines (the
database's reasons and details, in the same order as the `checked` view of transactions.sql),
rows already loaded by an earlier run are set aside as duplicates, and labels are looked up on
the batch; `columnar_copy` encodes the rows as binary COPY."""

from __future__ import annotations

import os
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from apps.transactions.ingest.checks import LabelChecks
from apps.transactions.ingest.columnar import date_digits, fixed_width
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

        # Customers and cards that no processor file delivered (the rental side's) have no
        # external id: a processor's client_id or card_id never names them.
        customer_keys, customer_ids = arrays(
            "SELECT external_id, id FROM customers_customer WHERE external_id IS NOT NULL", 2
        )
        card_keys, card_ids, card_customers = arrays(
            "SELECT external_id, id, customer_id FROM customers_paymentcard WHERE external_id IS NOT NULL", 3
        )
        codes = [row[0] for row in conn.execute("SELECT code FROM transactions_merchantcategory").fetchall()]
        return cls(customer_keys, customer_ids, card_keys, card_ids, card_customers, pa.array(codes, pa.string()))


class Labels:
    """The labels as id * 2 + is_fraud (8 bytes a label), in sorted runs on disk: a label is a
    binary search on the batch's ids instead of a 188 MB hash table probed per row in
    PostgreSQL, and memory stays flat whatever the number of labels. Each run (at most a
    fetch of labels, sorted) is written to a temporary file; only every STRIDE-th key of a run
    stays in memory, to find the stretch of it that the batch's id range needs, which is all
    that is read back. A file sorted by id reads a few kB per batch. Valid staged labels are
    unique by id (later ones are in-file duplicates), so an id is in at most one run."""

    STRIDE = 1024

    def __init__(self, ids: np.ndarray, fraud: np.ndarray):
        """Labels in file order (the first label of an id wins, as in the staged labels)."""
        order = np.argsort(ids, kind="stable")
        ids, fraud = ids[order], fraud[order]
        first = np.ones(ids.size, dtype=bool)
        first[1:] = ids[1:] != ids[:-1]
        self._open()
        self._add_run(ids[first] * 2 + fraud[first])

    def _open(self) -> None:
        self.spill = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed by close(); unbuffered, read back by os.pread
        self.size = 0
        self.count = 0
        self.runs: list[tuple[int, int, int, int, np.ndarray]] = []  # (lowest, highest, offset, keys, every STRIDE-th)

    def _add_run(self, keys: np.ndarray) -> None:
        """Adds a run of keys (sorted here) to the spill file."""
        if keys.size == 0:
            return
        keys = keys.astype(np.int64)  # a copy in native byte order
        keys.sort()
        self.spill.seek(0, os.SEEK_END)
        self.spill.write(keys.tobytes())
        self.runs.append((int(keys[0]), int(keys[-1]), self.size, keys.size, keys[:: self.STRIDE].copy()))
        self.size += keys.size * 8
        self.count += keys.size

    def close(self) -> None:
        self.spill.close()

    @classmethod
    def from_staging(cls, conn, parsed, chunk_lines: int = 1 << 18) -> Labels:
        """The valid labels of a file staged by labels.sql's `prepare` ({parsed}), fetched as one
        binary bytea of 8-byte keys per 262,144 lines (2 MB: the connection's input buffer keeps
        the size of the largest), each a sorted run on disk."""
        from psycopg import sql

        count, low, high = conn.execute(
            sql.SQL("SELECT count(*) FILTER (WHERE reason IS NULL), min(line_no), max(line_no) FROM {}").format(parsed)
        ).fetchone()
        query = sql.SQL(
            "SELECT string_agg(int8send(id * 2 + is_fraud::int), ''::bytea) FROM {} "
            "WHERE reason IS NULL AND line_no >= %s AND line_no < %s"
        ).format(parsed)

        def runs():
            with conn.cursor(binary=True) as cur:
                for start in range(low or 0, (high or -1) + 1, chunk_lines):
                    value = cur.execute(query, [start, start + chunk_lines]).fetchone()[0]
                    yield np.frombuffer(value or b"", dtype=">i8")

        labels = cls.from_runs(runs())
        if labels.count != count:
            labels.close()
            raise ValueError(f"read {labels.count} labels of {count}")
        return labels

    @classmethod
    def from_runs(cls, runs) -> Labels:
        """Labels from arrays of keys (id * 2 + is_fraud) of distinct ids, in any order."""
        labels = cls.__new__(cls)
        labels._open()
        for keys in runs:
            labels._add_run(keys)
        return labels

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

    def _stretch(self, run, low: int, high: int) -> np.ndarray:
        """The keys of a run between low and high (inclusive), read from the spill file."""
        _, _, offset, size, sample = run
        first = max(int(np.searchsorted(sample, low, side="right")) - 1, 0) * self.STRIDE
        last = min(int(np.searchsorted(sample, high, side="right")) * self.STRIDE, size)
        return np.frombuffer(os.pread(self.spill.fileno(), (last - first) * 8, offset + first * 8), dtype=np.int64)

    def lookup(self, ids: np.ndarray) -> pa.Array:
        found = np.zeros(ids.size, dtype=bool)
        fraud = np.zeros(ids.size, dtype=bool)
        if ids.size and self.runs:
            low, high = int(ids.min()) * 2, int(ids.max()) * 2 + 1
            for run in self.runs:
                if run[1] < low or run[0] > high:
                    continue
                keys = self._stretch(run, low, high)
                if keys.size == 0:
                    continue
                at = np.minimum(np.searchsorted(keys, ids * 2), keys.size - 1)
                hit = (keys[at] >> 1) == ids
                fraud |= hit & (keys[at] & 1).astype(bool)
                found |= hit
        if not found.any():
            return pa.nulls(ids.size, pa.bool_())
        return pa.array(fraud, mask=~found)


def raw_line(fields: list[str]) -> str:
    """The text RejectedRow keeps of a row the database-side checks refuse, as the checked view
    builds it: fields joined by commas, errors quoted when it holds a comma, card numbers masked."""
    *head, errors = fields
    return mask_text(",".join([*head, f'"{errors}"' if "," in errors else errors]))


class SeenIds:
    """The ids of the file's earlier lines, for the in-file duplicate check. A running maximum
    settles every id above it (in a file sorted by id: every line but the repeats); the others
    are looked up in the earlier batches, kept sorted on disk (16 bytes a row, read back only
    where their id range overlaps), so memory stays flat whatever the file's size."""

    def __init__(self):
        self.max_seen = -1
        self.spill = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed by close(); unbuffered, read back by os.pread
        self.size = 0
        self.chunks: list[tuple[int, int, int, int]] = []  # (lowest id, highest id, offset, rows)

    def close(self) -> None:
        self.spill.close()

    def first_lines(self, ids: np.ndarray, lines: np.ndarray) -> np.ndarray:
        """Per row, the first earlier line of the file with the same id, else 0."""
        n = ids.size
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        sorted_ids, sorted_lines = ids[order], lines[order]
        new = np.ones(n, dtype=bool)
        new[1:] = sorted_ids[1:] != sorted_ids[:-1]
        group_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        first = np.zeros(n, dtype=np.int64)
        first[order] = np.where(new, 0, sorted_lines[group_start])
        candidates = np.flatnonzero(ids <= self.max_seen)
        if candidates.size:
            wanted = ids[candidates]
            found = np.zeros(candidates.size, dtype=np.int64)
            low, high = int(wanted.min()), int(wanted.max())
            fd = self.spill.fileno()
            for lo, hi, offset, rows in self.chunks:  # in file order: the first hit is the first line
                if hi < low or lo > high:
                    continue
                data = np.frombuffer(os.pread(fd, rows * 16, offset), dtype=np.int64)
                chunk_ids, chunk_lines = data[:rows], data[rows:]
                at = np.minimum(np.searchsorted(chunk_ids, wanted), rows - 1)
                found = np.where((found == 0) & (chunk_ids[at] == wanted), chunk_lines[at], found)
            earlier = found > 0
            first[candidates[earlier]] = found[earlier]
        self.spill.seek(0, os.SEEK_END)
        self.spill.write(sorted_ids.tobytes() + sorted_lines.tobytes())
        self.chunks.append((int(sorted_ids[0]), int(sorted_ids[-1]), self.size, n))
        self.size += n * 16
        self.max_seen = max(self.max_seen, int(sorted_ids[-1]))
        return first


class BatchTyper:
    """Types the batches of one transactions file, in file order; `rejects` the rows the database
    would refuse, with its reasons and details, and sets aside (counts as `already_loaded`) the
    good rows whose id `loaded(ids)` says an earlier run has loaded.

    `source_tz` is the time zone of the file's local times; `resolve(local)` gives the UTC
    microseconds PostgreSQL makes of the few local times a DST change makes ambiguous or skips."""

    def __init__(
        self,
        refs: References,
        labels: Labels | None,
        *,
        run_id: int,
        on_reject: Callable[[Rejection], None],
        source_tz: str = "UTC",
        resolve: Callable[[np.ndarray], np.ndarray] | None = None,
        loaded: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.refs = refs
        self.labels = labels
        self.run_id = run_id
        self.on_reject = on_reject
        self.source_tz = source_tz
        self.resolve = resolve
        self.loaded = loaded
        self.seen = SeenIds()
        self.rejected = 0
        self.already_loaded = 0
        self.reject_seconds = 0.0

    def close(self) -> None:
        self.seen.close()

    def batch(self, lines: np.ndarray, table: pa.Table) -> pa.Table:
        """The typed rows of the batch (PAYMENT_COLUMNS) to load."""
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
        first_lines = self.seen.first_lines(ids, lines)
        reasons = [
            (first_lines > 0, "duplicate_in_file"),
            (~known_client, "unknown_client"),
            (known_client & ~known_card, "unknown_card"),
            (known_client & known_card & (card_owner != customer_id), "card_client_mismatch"),
            (~known_mcc, "unknown_mcc"),
            (~known_method, "bad_value"),
        ]
        refused = np.zeros(ids.size, dtype=bool)
        for mask, _ in reasons:
            refused |= mask
        if refused.any():
            started = time.perf_counter()
            self._reject(table, lines, refused, first_lines, reasons)
            self.reject_seconds += time.perf_counter() - started
        keep = ~refused
        if self.loaded is not None and keep.any():
            already = np.zeros(ids.size, dtype=bool)
            already[keep] = self.loaded(ids[keep])
            self.already_loaded += int(already.sum())
            keep &= ~already
        if keep.all():
            return self._typed(table, ids, customer_id, card_id, method_at)
        good = pa.array(keep)
        return self._typed(table.filter(good), ids[keep], customer_id[keep], card_id[keep], pc.filter(method_at, good))

    def _reject(self, table, lines, refused, first_lines, reasons) -> None:
        positions = np.flatnonzero(refused)
        for position, row in zip(positions.tolist(), table.take(pa.array(positions)).to_pylist(), strict=True):
            client, card, mcc, use_chip = row["client_id"], row["card_id"], row["mcc"], row["use_chip"]
            empty = "(empty)"
            reason = next(name for mask, name in reasons if mask[position])
            detail = {
                "duplicate_in_file": f"transaction id {row['id']} already appears on line {first_lines[position]}",
                "unknown_client": f"client_id {client} is not a known customer",
                "unknown_card": f"card_id {card} is not a known card",
                "card_client_mismatch": f"card_id {card} belongs to another client than {client}",
                "unknown_mcc": f"mcc {mcc or empty} is neither an ISO 18245 code nor in the delivery's MCC file",
                "bad_value": f"use_chip {use_chip or empty} is not a Swipe, Chip or Online Transaction",
            }[reason]
            self.rejected += 1
            self.on_reject(Rejection(int(lines[position]), reason, mask_text(detail), raw_line(list(row.values()))))

    def _paid_at(self, date) -> pa.Array:
        """UTC timestamps of the local `date` strings (YYYY-MM-DD HH:MM[:SS], or with a T)."""
        local = pa.array(_local_micros(date), pa.timestamp("us"))
        if self.source_tz == "UTC":
            return local
        earliest = pc.assume_timezone(local, timezone=self.source_tz, ambiguous="earliest", nonexistent="earliest")
        latest = pc.assume_timezone(local, timezone=self.source_tz, ambiguous="latest", nonexistent="latest")
        utc = pc.cast(earliest, pa.int64()).to_numpy(zero_copy_only=False).copy()
        odd = np.flatnonzero(utc != pc.cast(latest, pa.int64()).to_numpy(zero_copy_only=False))
        if odd.size:  # DST changes: PostgreSQL's reading, so either engine stores the same instant
            naive = pc.cast(local, pa.int64()).to_numpy(zero_copy_only=False)
            utc[odd] = self.resolve(naive[odd])
        return pa.array(utc, pa.timestamp("us"))

    def _typed(self, table: pa.Table, ids, customer_id, card_id, method_at) -> pa.Table:
        paid_at = self._paid_at(table["date"])
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
                "amount": _cents(table["amount"]),
                "method": pc.take(pa.array(list(METHODS.values())), method_at),
                "merchant_id": pc.cast(table["merchant_id"], pa.int64()),
                "merchant_city": _left(table["merchant_city"], 100),
                "merchant_state": _left(table["merchant_state"], 100),
                "merchant_zip": merchant_zip,
                "mcc": table["mcc"],
                "errors": table["errors"],
                "is_fraud": labels,
                "ingest_run_id": pa.array(np.full(n, self.run_id, dtype=np.int64)),
            }
        )


def _local_micros(date) -> np.ndarray:
    """Microseconds since 1970 on the wall clock of checked dates: from the digits where they
    are in the long form (nearly all), else parsed."""
    long_form = pc.equal(pc.binary_length(date), 19).to_numpy(zero_copy_only=False)
    if long_form.all():
        return _civil_micros(*date_digits(fixed_width(date, 19))[1])
    micros = np.empty(long_form.size, dtype=np.int64)
    if long_form.any():
        micros[long_form] = _local_micros(pc.filter(date, pa.array(long_form)))
    short = pc.filter(date, pa.array(~long_form))
    short = pc.replace_substring(short, "T", " ")
    short = pc.if_else(pc.equal(pc.utf8_length(short), 16), pc.binary_join_element_wise(short, ":00", ""), short)
    parsed = pc.strptime(short, format="%Y-%m-%d %H:%M:%S", unit="us")
    micros[~long_form] = pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False)
    return micros


def _civil_micros(year, month, day, hour, minute, second) -> np.ndarray:
    """Microseconds since 1970-01-01 00:00 of valid calendar dates and times (the proleptic
    Gregorian day count of H. Hinnant's days_from_civil)."""
    y = year.astype(np.int64) - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month.astype(np.int64) + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000


def _cents(amount) -> pa.Array:
    """Amounts like $-77.00, -$5 or 12.3 in cents. The reader checked their form (at most 10
    digits and 2 decimals), so a double holds each closely enough to round to the exact cent."""
    value = pc.cast(pc.replace_substring(amount, "$", ""), pa.float64()).to_numpy(zero_copy_only=False)
    return pa.array(np.rint(value * 100).astype(np.int64))


def _left(column, characters: int):
    """left(text, n), computed only when some value has more than n bytes."""
    if (pc.max(pc.binary_length(column)).as_py() or 0) <= characters:
        return column
    return pc.utf8_slice_codeunits(column, 0, characters)


def _before_dot(column):
    """The text before the first '.' (split_part(zip, '.', 1))."""
    return pc.list_element(pc.split_pattern(column, ".", max_splits=1), 0)
