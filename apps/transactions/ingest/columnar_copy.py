"""PostgreSQL binary COPY rows from a typed Arrow table of payments (issue 20 prototype), built
with numpy for the whole batch: each field's bytes are scattered into one buffer instead of
converting every value to a Python object."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apps.transactions.ingest.columnar_load import (
    _PG_EPOCH_US,
    _VARCHAR_OID,
    COPY_HEADER,
    COPY_TRAILER,
    PAYMENT_COLUMNS,
)


def _fixed(values: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Big-endian fields of one width: (lengths, bytes in row order)."""
    data = np.ascontiguousarray(values.astype(dtype)).view(np.uint8)
    width = np.dtype(dtype).itemsize
    return np.full(values.size, width, dtype=np.int64), data


def _numeric(amount_cents) -> tuple[np.ndarray, np.ndarray]:
    """numeric(12, 2) in PostgreSQL's binary form, from cents: 4 base-10000 digits with weight 2
    (leading and trailing zero digits are stripped by the server), sign, scale 2."""
    cents = pc.cast(amount_cents, pa.int64()).to_numpy(zero_copy_only=False)
    sign = np.where(cents < 0, 0x4000, 0)
    whole, fraction = np.divmod(np.abs(cents), 100)
    words = np.empty((cents.size, 8), dtype=">i2")
    words[:, 0] = 4  # ndigits
    words[:, 1] = 2  # weight of the first digit: 10000^2
    words[:, 2] = sign
    words[:, 3] = 2  # display scale
    words[:, 4] = whole // 100_000_000
    words[:, 5] = (whole // 10_000) % 10_000
    words[:, 6] = whole % 10_000
    words[:, 7] = fraction * 100
    return np.full(cents.size, 16, dtype=np.int64), words.view(np.uint8).ravel()


def _variable(column) -> tuple[np.ndarray, np.ndarray]:
    """Text or bytes fields (NULL as length -1): Arrow's own value buffer, no copy per value."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(array.type):
        array = array.cast(pa.binary())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets).astype(np.int64)
    if array.null_count:
        lengths[~pc.is_valid(array).to_numpy(zero_copy_only=False)] = -1
    return lengths, data[offsets[0] : offsets[-1]]


def _errors_array(errors: str) -> bytes:
    """One varchar[] value in binary form: '' is the empty array, else the comma-separated entries."""
    if not errors:
        return struct.pack("!iii", 0, 0, _VARCHAR_OID)
    items = [e.encode() for e in errors.split(",")]
    body = b"".join(struct.pack("!i", len(e)) + e for e in items)
    return struct.pack("!iiiii", 1, 0, _VARCHAR_OID, len(items), 1) + body


def _errors(column) -> tuple[np.ndarray, np.ndarray]:
    """The errors column has few distinct values: each is encoded once in Python."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    blobs = pa.array([_errors_array(value) for value in encoded.dictionary.to_pylist()], pa.binary())
    return _variable(pc.take(blobs, encoded.indices))


def _boolean(column) -> tuple[np.ndarray, np.ndarray]:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    values = pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(np.uint8)
    valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
    return np.where(valid, 1, -1).astype(np.int64), values[valid]


def encode(table: pa.Table) -> bytes:
    """The binary COPY rows (no header or trailer) of a table with columnar_load.PAYMENT_COLUMNS
    (the amount in cents)."""
    n = table.num_rows
    if n == 0:
        return b""

    def ints(name):
        return pc.cast(table[name], pa.int64()).to_numpy(zero_copy_only=False)

    paid_at = pc.cast(table["paid_at"], pa.int64()).to_numpy(zero_copy_only=False) - _PG_EPOCH_US
    fields = [
        _fixed(ints("id"), ">i8"),
        _fixed(paid_at, ">i8"),
        _fixed(ints("customer_id"), ">i8"),
        _fixed(ints("card_id"), ">i8"),
        _numeric(table["amount"]),
        _variable(table["method"]),
        _fixed(ints("merchant_id"), ">i8"),
        _variable(table["merchant_city"]),
        _variable(table["merchant_state"]),
        _variable(table["merchant_zip"]),
        _variable(table["mcc"]),
        _errors(table["errors"]),
        _boolean(table["is_fraud"]),
        _fixed(ints("ingest_run_id"), ">i8"),
    ]
    sizes = np.full(n, 2, dtype=np.int64)
    for lengths, _ in fields:
        sizes += 4 + np.maximum(lengths, 0)
    row_start = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=row_start[1:])
    out = np.empty(int(row_start[-1] + sizes[-1]), dtype=np.uint8)
    out[row_start[:, None] + np.arange(2)] = np.frombuffer(struct.pack("!h", len(fields)), dtype=np.uint8)
    at = row_start + 2
    for lengths, data in fields:
        out[at[:, None] + np.arange(4)] = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        at = at + 4
        present = np.maximum(lengths, 0)
        if data.size:
            starts = np.zeros(n, dtype=np.int64)
            np.cumsum(present[:-1], out=starts[1:])
            out[np.repeat(at - starts, present) + np.arange(data.size)] = data
        at = at + present
    return out.tobytes()


_ID_ROW = np.dtype([("fields", ">i2"), ("length", ">i4"), ("id", ">i8")])  # one bigint column, packed


def encode_ids(ids: np.ndarray) -> bytes:
    """Binary COPY rows (no header or trailer) of a table with one bigint column."""
    rows = np.empty(ids.size, dtype=_ID_ROW)
    rows["fields"], rows["length"], rows["id"] = 1, 8, ids
    return rows.tobytes()


def labelled_ids(typed: pa.Table) -> np.ndarray:
    """The ids of the typed rows that carry a label."""
    fraud = typed["is_fraud"]
    if fraud.null_count == len(fraud):
        return np.empty(0, dtype=np.int64)
    return pc.filter(typed["id"], pc.is_valid(fraud)).to_numpy()


def month_indexes(paid_at) -> np.ndarray:
    """year * 12 + month - 1 of each (UTC) timestamp."""
    micros = pc.cast(paid_at, pa.int64()).to_numpy(zero_copy_only=False)
    return micros.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) + 1970 * 12


def month_groups(table: pa.Table) -> list[tuple[int, pa.Table]]:
    """The table split by the UTC month of paid_at (year * 12 + month - 1), in file order."""
    if table.num_rows == 0:
        return []
    months = month_indexes(table["paid_at"])
    if (months == months[0]).all():
        return [(int(months[0]), table)]
    return [(int(m), table.filter(pa.array(months == m))) for m in np.unique(months).tolist()]


_END = object()


class Prefetch:
    """Iterates `iterable` on a thread of its own, at most `depth` items ahead: the reader's
    checks of block k + 1 run while the caller types block k (pyarrow and numpy release the GIL)."""

    def __init__(self, iterable, depth: int = 2):
        import queue
        import threading

        self.queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, args=(iterable,), name="columnar-read", daemon=True)
        self.thread.start()

    def _put(self, item) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, iterable) -> None:
        try:
            for item in iterable:
                if not self._put(item):
                    return
                item = None  # not held while the next one is made
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self._put(_END)

    def __iter__(self):
        while (item := self.queue.get()) is not _END:
            yield item
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def load(
    conn, path, *, marker: str, refs=None, labels=None, run_id: int = 0, on_reject, table_for, timings=None,
    typer=None, reader=None, on_batch=None, on_close=None, abort=None, hits=None,
) -> dict:  # fmt: skip
    """Reads, checks, types and binary-COPYs the transactions file at `path` into the tables
    `table_for(month)` names (sql.Composable, called on the COPY thread). Three threads overlap:
    one reads and checks block k + 2 (`Prefetch`), this one types and encodes block k + 1, one
    COPYs block k (pyarrow, numpy and the socket release the GIL); the queues hold a few blocks,
    so memory stays bounded whatever the file's size.

    Optional hooks: `typer` and `reader` (else built from refs, labels and run_id), `on_batch(lines,
    strings)` sees every batch of good lines before typing, `on_close(month)` is called on the COPY
    thread once the file has moved past a month (every later batch starts after it) and its rows
    are all copied; `abort` (an Event) stops the load; `hits` (sql.Composable, a table with one
    bigint column) receives the ids of the rows that carry a label, copied on the same thread."""
    import queue
    import threading
    import time

    from psycopg import sql

    from apps.transactions.ingest.columnar import ColumnarReader
    from apps.transactions.ingest.columnar_load import BatchTyper

    timings = {} if timings is None else timings
    lock = threading.Lock()

    def tick(key: str, started: float) -> float:
        now = time.perf_counter()
        with lock:
            timings[key] = timings.get(key, 0.0) + now - started
        return now

    reader = reader or ColumnarReader(path, marker=marker, on_reject=on_reject)
    typer = typer or BatchTyper(refs, labels, run_id=run_id, on_reject=on_reject)
    columns = sql.SQL(", ").join(map(sql.Identifier, PAYMENT_COLUMNS))
    pending: queue.Queue = queue.Queue(maxsize=2)  # encoded blocks waiting for the COPY thread
    failed: list[BaseException] = []
    loaded = 0
    open_months: set[int] = set()

    def copier() -> None:
        nonlocal loaded
        while (item := pending.get()) is not None:
            if failed:
                continue  # drain, so the producer never blocks
            started = time.perf_counter()
            try:
                if item[0] == "close":
                    for month in sorted(m for m in open_months if m < item[1]):
                        open_months.discard(month)
                        if on_close is not None:
                            on_close(month)
                    continue
                if item[0] == "hits":
                    statement = sql.SQL("COPY {} (id) FROM STDIN WITH (FORMAT binary)").format(hits)
                    with conn.cursor().copy(statement) as copy:
                        copy.write(COPY_HEADER)
                        copy.write(item[1])
                        copy.write(COPY_TRAILER)
                    item = None
                    continue
                _, month, payload, count = item
                statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(table_for(month), columns)
                with conn.cursor().copy(statement) as copy:
                    copy.write(COPY_HEADER)
                    copy.write(payload)
                    copy.write(COPY_TRAILER)
                item = payload = None  # not held while the next block is awaited
                loaded += count
                open_months.add(month)
            except BaseException as exc:
                failed.append(exc)
            tick("copy (overlapped)", started)

    thread = threading.Thread(target=copier, name="columnar-copy")
    thread.start()
    prefetch = Prefetch(reader)
    try:
        batches = iter(prefetch)
        while not failed:
            if abort is not None and abort.is_set():
                from apps.transactions.ingest.context import IngestAborted

                raise IngestAborted("run aborted")
            started = time.perf_counter()
            try:
                lines, strings = next(batches)
            except StopIteration:
                break
            if on_batch is not None:
                on_batch(lines, strings)
            started = tick("read_and_check", started)
            typed = typer.batch(lines, strings)
            started = tick("type_and_references", started)
            if hits is not None and (labelled := labelled_ids(typed)).size:
                pending.put(("hits", encode_ids(labelled)))
            groups = month_groups(typed)
            for month, rows in groups:
                payload = encode(rows)
                started = tick("encode", started)
                pending.put(("copy", month, payload, rows.num_rows))
                started = tick("wait_for_copy", started)
            if groups:
                pending.put(("close", groups[0][0]))
            lines = strings = typed = groups = rows = payload = None  # not held while the next block is awaited
        pending.put(("close", 1 << 40))
    finally:
        prefetch.close()
        pending.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return {"rows": reader.rows, "loaded": loaded, "rejected_in_db_checks": typer.rejected, "timings": timings}
