"""The columnar path for transactions_data.csv (issue 20), a prototype not yet wired into the run:
the reader's structural checks (column count, quoting, UTF-8, NUL bytes) set bad lines aside as
today, then each cleaned block is parsed by pyarrow's CSV reader as strings and checked with
Arrow compute instead of Python: the same rules, in the same order, with the same reasons and
details as `checks.TransactionChecks`, so a line is refused on the same line number for the
same reason on either path. Lines with a double quote (rare) keep going through
`TransactionChecks.fields`, as they do today.

`ColumnarReader` yields (file line numbers, string table) of the lines that passed; typing them
and the references are in `columnar_load`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from apps.transactions.ingest.checks import TransactionChecks, _quote
from apps.transactions.ingest.layout import TRANSACTION_COLUMNS
from apps.transactions.ingest.masking import mask_line
from apps.transactions.ingest.readers import BLOCK_SIZE, CsvBlockReader, Rejection

_DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?$"
_AMOUNT = r"^(\$-|-\$|\$|-)?[0-9]{1,10}(\.[0-9]{1,2})?$"
_PAN_RUN = r"(^|[^0-9])[0-9]{13,19}([^0-9]|$)"  # a maximal run of 13-19 digits, without look-around
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int16)

# The vector rules of TransactionChecks.vector, in its order: (reason, column, detail template).
RULES = [
    ("bad_value", "id", "id {} is not a number"),
    ("bad_date", "date", "date {} is not a date and time (YYYY-MM-DD HH:MM[:SS])"),
    ("bad_amount", "amount", "amount {} is not an amount like $-77.00"),
    ("bad_value", "client_id", "client_id {} is not a number"),
    ("bad_value", "card_id", "card_id {} is not a number"),
    ("bad_value", "merchant_id", "merchant_id {} is not a number"),
    ("bad_value", "zip", "zip {} is not a postal code"),
    ("bad_value", "errors", "errors {} is longer than 40 characters"),
]


def _matches(column: pa.ChunkedArray | pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(column, pattern).to_numpy(zero_copy_only=False)


def _numpy(mask) -> np.ndarray:
    return mask.to_numpy(zero_copy_only=False)


def _digits_only(column, longest: int) -> np.ndarray:
    """^[0-9]{1,longest}$ without a regular expression (ascii_is_decimal is false for '')."""
    return _numpy(pc.and_(pc.ascii_is_decimal(column), pc.less_equal(pc.binary_length(column), longest)))


def _pan_in(column) -> np.ndarray:
    """Rows holding a run of 13-19 digits: the regular expression only on the rows that are long
    enough to hold one."""
    long_enough = _numpy(pc.greater_equal(pc.binary_length(column), 13))
    hits = np.zeros(long_enough.size, dtype=bool)
    if long_enough.any():
        where = np.flatnonzero(long_enough)
        hits[where] = _matches(pc.take(column, pa.array(where)), _PAN_RUN)
    return hits


def _slice_int(column, start: int, stop: int) -> np.ndarray:
    return pc.cast(pc.utf8_slice_codeunits(column, start, stop), pa.int16()).to_numpy(zero_copy_only=False)


def fixed_width(column, width: int) -> np.ndarray | None:
    """The values of a string column as a (rows, width) matrix of bytes, without a copy, when
    every value has exactly `width` bytes (dates nearly always do); else None."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.empty((0, width), dtype=np.uint8)
    if array.null_count:
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    if offsets[-1] - offsets[0] != width * len(array) or not (np.diff(offsets) == width).all():
        return None
    return np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, width)


def date_digits(matrix: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Shape check and (year, month, day, hour, minute, second) of YYYY-MM-DD HH:MM:SS dates
    given as a (rows, 19) byte matrix."""
    d = matrix.astype(np.int16) - 48
    is_digit = (d >= 0) & (d <= 9)
    shape = (
        is_digit[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]].all(axis=1)
        & (matrix[:, 4] == 45)
        & (matrix[:, 7] == 45)
        & ((matrix[:, 10] == 32) | (matrix[:, 10] == 84))
        & (matrix[:, 13] == 58)
        & (matrix[:, 16] == 58)
    )
    parts = [d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]]
    parts += [d[:, k] * 10 + d[:, k + 1] for k in (5, 8, 11, 14, 17)]
    return shape, parts


def date_ok(column) -> np.ndarray:
    """The date rule of TransactionChecks: YYYY-MM-DD HH:MM[:SS] (or T), a real calendar date and
    time, year 1900-2099."""
    long_form = _numpy(pc.equal(pc.binary_length(column), 19))
    if long_form.all():  # numpy on the bytes, no regular expression
        shape, (year, month, day, hour, minute, second) = date_digits(fixed_width(column, 19))
        return _calendar_ok(shape, year, month, day, hour, minute, second)
    if long_form.any():
        ok = np.zeros(long_form.size, dtype=bool)
        ok[long_form] = date_ok(pc.filter(column, pa.array(long_form)))
        ok[~long_form] = _date_ok_parsed(pc.filter(column, pa.array(~long_form)))
        return ok
    return _date_ok_parsed(column)


def _date_ok_parsed(column) -> np.ndarray:
    shape = _matches(column, _DATE_SHAPE)
    safe = pc.if_else(pa.array(shape), column, "2000-01-01 00:00:00")
    year, month, day = _slice_int(safe, 0, 4), _slice_int(safe, 5, 7), _slice_int(safe, 8, 10)
    hour, minute = _slice_int(safe, 11, 13), _slice_int(safe, 14, 16)
    long_form = pc.equal(pc.utf8_length(safe), 19)
    second = pc.cast(pc.if_else(long_form, pc.utf8_slice_codeunits(safe, 17, 19), "0"), pa.int16())
    second = second.to_numpy(zero_copy_only=False)
    return _calendar_ok(shape, year, month, day, hour, minute, second)


def _calendar_ok(shape, year, month, day, hour, minute, second) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    last_day = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return (
        shape
        & (year >= 1900)
        & (year <= 2099)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= last_day)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )


def first_failing_rule(table: pa.Table) -> np.ndarray:
    """Per row, 0 when it passes the vector rules, else 1 + the index in RULES of the first rule
    it fails."""
    zip_code = table["zip"]
    zip_length = _numpy(pc.binary_length(zip_code))
    # ^[0-9]*\.?[0-9]*$ with a digit: digits only once the first '.' is gone.
    zip_digits = _numpy(pc.ascii_is_decimal(pc.replace_substring(zip_code, ".", "", max_replacements=1)))
    passes = [
        _digits_only(table["id"], 18),
        date_ok(table["date"]),
        _matches(table["amount"], _AMOUNT),
        _digits_only(table["client_id"], 18),
        _digits_only(table["card_id"], 18),
        _digits_only(table["merchant_id"], 18),
        (zip_length == 0) | ((zip_length <= 12) & zip_digits),
        _numpy(pc.binary_length(table["errors"])) <= 40,
    ]
    bad = np.zeros(table.num_rows, dtype=np.int8)
    for code in range(len(passes), 0, -1):  # the last assignment wins: the first rule
        bad[~passes[code - 1]] = code
    return bad


def check_block(
    table: pa.Table, lines: np.ndarray, quoted: np.ndarray, on_reject: Callable[[Rejection], None], raw
) -> np.ndarray:
    """Mask of the rows of `table` (file lines `lines`) that pass every format check; each other
    one is reported to `on_reject` with the reason and detail today's reader gives it. `raw(i)`
    is the bytes of row i's line, for the masked raw text."""
    bad = first_failing_rule(table)
    bad[quoted] = 0
    problems: dict[int, tuple[str, str]] = {}
    for position in np.flatnonzero(bad).tolist():
        reason, column, template = RULES[int(bad[position]) - 1]
        problems[position] = (reason, template.format(_quote(table[column][position].as_py())))
    maybe_pan = (bad == 0) & ~quoted
    for name in ("merchant_city", "merchant_state"):
        hits = maybe_pan & _pan_in(table[name])
        for position in np.flatnonzero(hits).tolist():
            problems[position] = ("bad_value", f"{name} holds a card number")
        maybe_pan &= ~hits
    if quoted.any():
        slow = TransactionChecks()
        columns = [table[c] for c in TRANSACTION_COLUMNS]
        for position in np.flatnonzero(quoted).tolist():
            fields = [column[position].as_py() for column in columns]
            problem, _ = slow.fields(fields, int(lines[position]))
            if problem:
                problems[position] = problem
    good = np.ones(table.num_rows, dtype=bool)
    for position in sorted(problems):
        reason, detail = problems[position]
        on_reject(Rejection(int(lines[position]), reason, detail, mask_line(raw(position))))
        good[position] = False
    return good


class ColumnarReader:
    """Yields (file line numbers, table of strings) of the transactions lines that passed the
    structural and format checks, block by block; every other line goes to `on_reject`."""

    def __init__(self, path: Path, *, marker: str, on_reject: Callable[[Rejection], None], block_size=BLOCK_SIZE):
        self.marker = marker
        self.on_reject = on_reject
        self.blocks = CsvBlockReader(
            path, columns=TRANSACTION_COLUMNS, marker=marker, on_reject=on_reject, block_size=block_size
        )
        self.read_options = pacsv.ReadOptions(column_names=TRANSACTION_COLUMNS, use_threads=True)
        self.convert_options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in TRANSACTION_COLUMNS},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self.parse_options = pacsv.ParseOptions(newlines_in_values=False)

    @property
    def rows(self) -> int:
        return self.blocks.rows

    @property
    def digest(self):
        return self.blocks.digest

    def __iter__(self) -> Iterator[tuple[np.ndarray, pa.Table]]:
        next_line = 2
        for block in self.blocks:
            if not block:
                continue
            arr = np.frombuffer(block, dtype=np.uint8)
            ends = np.flatnonzero(arr == 10)
            starts = np.concatenate(([0], ends[:-1] + 1))
            lines = np.arange(next_line, next_line + ends.size, dtype=np.int64)
            next_line += ends.size
            quoted = np.zeros(ends.size, dtype=bool)
            if 34 in block:
                quoted[np.searchsorted(ends, np.flatnonzero(arr == 34))] = True
            table = pacsv.read_csv(
                pa.py_buffer(block),
                read_options=self.read_options,
                parse_options=self.parse_options,
                convert_options=self.convert_options,
            )
            if table.num_rows != ends.size:
                raise ValueError(f"pyarrow parsed {table.num_rows} rows from a block of {ends.size} lines")
            keep = ~pc.equal(table["id"], self.marker).to_numpy(zero_copy_only=False)  # set aside already
            table = table.filter(pa.array(keep))
            lines, starts, ends, quoted = (a[keep] for a in (lines, starts, ends, quoted))
            good = check_block(table, lines, quoted, self.on_reject, _line_of(block, starts, ends))
            batch = lines[good], table.filter(pa.array(good))
            del table, block, arr, starts, ends, lines, quoted, keep, good  # not held while the next block is read
            yield batch
            batch = None


def _line_of(block: bytes, starts: np.ndarray, ends: np.ndarray) -> Callable[[int], bytes]:
    return lambda i: block[starts[i] : ends[i]]
