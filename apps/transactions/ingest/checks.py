"""Format checks of the big files, done on the reader's side so the SQL transform can cast
without failing: numpy checks whole blocks of well-formed lines at once (`vector`), and the
same rules in plain Python handle the few lines that need one-by-one parsing (`fields`).
Both return the transaction id of each good line for the in-file duplicate check."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from apps.transactions.ingest.readers import mask_text

Problem = tuple[str, str]

_DIGITS = re.compile(r"^[0-9]{1,18}$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?$")
_AMOUNT = re.compile(r"^(?:\$-|-\$|\$|-)?(?:[0-9]{1,10})(?:\.[0-9]{1,2})?$")
_ZIP = re.compile(r"^(?=.*[0-9])[0-9]*\.?[0-9]*$")
_PAN_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def _quote(value: str) -> str:
    return "'" + mask_text(value[:60]) + "'"


def _int_problem(name: str, value: str) -> Problem | None:
    if _DIGITS.match(value):
        return None
    return "bad_value", f"{name} {_quote(value)} is not a number"


def _date_ok(value: str) -> bool:
    match = _DATE.match(value)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if not 1900 <= year <= 2099:
        return False
    try:
        dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


class _VectorBase:
    def __init__(self):
        self.arr = None

    def _prepare(self, arr: np.ndarray) -> None:
        self.arr = arr
        self.dot_positions = np.flatnonzero(arr == 46)
        self._digit_prefix = None

    def _digits(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How many ASCII digits lie in each [a, b): differences of a running count of the
        block's digits, built once per block (cheaper than a window of bytes per field)."""
        if self._digit_prefix is None:
            prefix = np.zeros(self.arr.size + 1, dtype=np.int32)
            np.cumsum((self.arr - 48) < 10, out=prefix[1:])  # uint8 wraps below '0': one compare
            self._digit_prefix = prefix
        return self._digit_prefix[b] - self._digit_prefix[a]

    def _gather(self, a: np.ndarray, width: int) -> np.ndarray:
        index = np.minimum(a[:, None] + np.arange(width), self.arr.size - 1)
        return self.arr[index]

    # _POWERS[n] holds the place values of the digits of an n-digit number (0 past its end).
    _POWERS = np.array([[10 ** (n - 1 - j) if j < n else 0 for j in range(18)] for n in range(19)], dtype=np.int64)

    def _int_values(self, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Values of digit-only fields of length n (1-18) starting at a."""
        if a.size == 0:
            return np.zeros(0, dtype=np.int64)
        width = int(n.max())
        window = self._gather(a, width).astype(np.int64) - 48
        return (window * self._POWERS[n, :width]).sum(axis=1)

    def _dots(self, a, b):
        """How many '.' lie in [a, b), and where the first one at or after a is."""
        positions = self.dot_positions
        if positions.size == 0:
            return np.zeros(a.shape, dtype=np.int64), np.full(a.shape, -1)
        first = np.searchsorted(positions, a)
        count = np.searchsorted(positions, b) - first
        return count, positions[np.minimum(first, positions.size - 1)]

    def _int_ok(self, a, b) -> np.ndarray:
        n = b - a
        short = np.minimum(n, 18)
        return (n >= 1) & (n <= 18) & (self._digits(a, a + short) == n)


def field_bounds(comma, starts, ends, lines, ncols: int, commas_per_line: np.ndarray):
    """Start and end offsets of every field of the given lines (lines with exactly ncols - 1
    commas and no quotes), as (len(lines), ncols) arrays; `comma` holds the block's comma offsets."""
    if lines.size == ends.size:  # every line of the block: its commas are all theirs, in order
        commas = comma.reshape(-1, ncols - 1)
    else:
        owner = np.repeat(np.arange(ends.size), commas_per_line)
        selected = np.zeros(ends.size, dtype=bool)
        selected[lines] = True
        commas = comma[selected[owner]].reshape(-1, ncols - 1)
    fs = np.empty((lines.size, ncols), dtype=np.int64)
    fe = np.empty((lines.size, ncols), dtype=np.int64)
    fs[:, 0] = starts[lines]
    fs[:, 1:] = commas + 1
    fe[:, :-1] = commas
    fe[:, -1] = ends[lines]
    return fs, fe


class TransactionChecks(_VectorBase):
    """transactions_data.csv: id, date, client_id, card_id, amount, use_chip, merchant_id,
    merchant_city, merchant_state, zip, mcc, errors."""

    ncols = 12
    marker_column = 5  # placeholders carry the marker in use_chip
    id_column = 0

    def __init__(self):
        super().__init__()
        # Months (year * 12 + month - 1) with payments, and those with payments on the first day
        # or the last days, which a time-zone shift can move into the neighbouring month.
        self.months = {"all": set(), "first_day": set(), "month_end": set()}
        # Per month: [first line, last line, rows] of its good rows, so the load can be split
        # between workers at a month boundary (see partition_load.load_plan).
        self.month_lines: dict[int, list[int]] = {}

    def _note_months(self, month_index: np.ndarray, day: np.ndarray, line_numbers: np.ndarray) -> None:
        if month_index.size == 0:
            return
        if month_index.size == 1 or bool((month_index[1:] >= month_index[:-1]).all()):
            months, lines = month_index, line_numbers  # a file in date order: already grouped
        else:
            order = np.argsort(month_index, kind="stable")
            months, lines = month_index[order], line_numbers[order]
        starts = np.concatenate(([0], np.flatnonzero(months[1:] != months[:-1]) + 1))
        first = np.minimum.reduceat(lines, starts).tolist()
        last = np.maximum.reduceat(lines, starts).tolist()
        counts = np.diff(np.append(starts, months.size)).tolist()
        for month, lo, hi, n in zip(months[starts].tolist(), first, last, counts, strict=True):
            seen = self.month_lines.get(month)
            if seen is None:
                self.month_lines[month] = [lo, hi, n]
            else:
                seen[0], seen[1], seen[2] = min(seen[0], lo), max(seen[1], hi), seen[2] + n
        self.months["all"].update(months[starts].tolist())
        if (day == 1).any():
            self.months["first_day"].update(np.unique(month_index[day == 1]).tolist())
        if (day >= 28).any():
            self.months["month_end"].update(np.unique(month_index[day >= 28]).tolist())

    def fields(self, f: list[str], line_number: int = 0) -> tuple[Problem | None, int | None]:
        problem = _int_problem("id", f[0])
        if problem:
            return problem, None
        if not _date_ok(f[1]):
            return ("bad_date", f"date {_quote(f[1])} is not a date and time (YYYY-MM-DD HH:MM[:SS])"), None
        if not _AMOUNT.match(f[4]):
            return ("bad_amount", f"amount {_quote(f[4])} is not an amount like $-77.00"), None
        for index, name in ((2, "client_id"), (3, "card_id"), (6, "merchant_id")):
            problem = _int_problem(name, f[index])
            if problem:
                return problem, None
        for index, name in ((7, "merchant_city"), (8, "merchant_state")):
            if _PAN_RUN.search(f[index]):
                return ("bad_value", f"{name} holds a card number"), None
        if f[9] and not (len(f[9]) <= 12 and _ZIP.match(f[9])):
            return ("bad_value", f"zip {_quote(f[9])} is not a postal code"), None
        if any(len(e) > 40 for e in f[11].split(",")):
            return ("bad_value", "errors holds an entry longer than 40 characters"), None
        year, month, day = int(f[1][:4]), int(f[1][5:7]), int(f[1][8:10])
        self._note_months(np.array([year * 12 + month - 1]), np.array([day]), np.array([line_number]))
        return None, int(f[0])

    def vector(self, arr, comma, starts, ends, lines, commas_per_line, first_line: int = 0):
        """Checks the lines in `lines` (indexes in the block, whose first line is file line
        `first_line`); returns ({line index: problem}, ids aligned with lines)."""
        self._prepare(arr)
        fs, fe = field_bounds(comma, starts, ends, lines, self.ncols, commas_per_line)
        n = fe - fs
        bad = np.zeros(lines.size, dtype=np.int8)  # 0 = good, else the index of the first failing rule
        rules = []

        def rule(mask, code):
            nonlocal bad
            bad = np.where((bad == 0) & ~mask, code, bad)

        rule(self._int_ok(fs[:, 0], fe[:, 0]), 1)
        rules.append((1, 0, "bad_value", "id {} is not a number"))
        date_ok, month_index, day = self._date_ok(fs[:, 1], n[:, 1])
        rule(date_ok, 2)
        rules.append((2, 1, "bad_date", "date {} is not a date and time (YYYY-MM-DD HH:MM[:SS])"))
        rule(self._amount_ok(fs[:, 4], fe[:, 4]), 3)
        rules.append((3, 4, "bad_amount", "amount {} is not an amount like $-77.00"))
        for code, (column, name) in enumerate(((2, "client_id"), (3, "card_id"), (6, "merchant_id")), start=4):
            rule(self._int_ok(fs[:, column], fe[:, column]), code)
            rules.append((code, column, "bad_value", name + " {} is not a number"))
        digits_zip = self._digits(fs[:, 9], fe[:, 9])
        dots, _ = self._dots(fs[:, 9], fe[:, 9])
        zip_ok = (n[:, 9] == 0) | ((n[:, 9] <= 12) & (digits_zip >= 1) & (dots <= 1) & (digits_zip + dots == n[:, 9]))
        rule(zip_ok, 7)
        rules.append((7, 9, "bad_value", "zip {} is not a postal code"))
        rule(n[:, 11] <= 40, 8)
        rules.append((8, 11, "bad_value", "errors {} is longer than 40 characters"))
        problems = {}
        for position in np.flatnonzero(bad).tolist():
            code = int(bad[position])
            _, column, reason, template = rules[code - 1]
            value = bytes(arr[fs[position, column] : fe[position, column]]).decode("utf-8", "replace")
            problems[int(lines[position])] = (reason, template.format(_quote(value)))
        # A card number in the city or state: rare, so those lines get the exact check one by one.
        maybe_pan = (self._digits(fs[:, 7], fe[:, 7]) >= 13) | (self._digits(fs[:, 8], fe[:, 8]) >= 13)
        for position in np.flatnonzero(maybe_pan & (bad == 0)).tolist():
            for column, name in ((7, "merchant_city"), (8, "merchant_state")):
                text = bytes(arr[fs[position, column] : fe[position, column]]).decode("utf-8", "replace")
                if _PAN_RUN.search(text):
                    problems[int(lines[position])] = ("bad_value", f"{name} holds a card number")
                    break
        ids = np.full(lines.size, -1, dtype=np.int64)
        good = bad == 0
        ids[good] = self._int_values(fs[good, 0], n[good, 0])
        if problems:
            ids[np.isin(lines, np.fromiter(problems, dtype=np.int64))] = -1
        noted = ids >= 0
        self._note_months(month_index[noted], day[noted], lines[noted] + first_line)
        return problems, ids

    def _date_ok(self, a, n):
        w = self._gather(a, 19).astype(np.int16)
        d = w - 48
        is_digit = (d >= 0) & (d <= 9)
        long_form = n == 19
        shape = (
            ((n == 16) | long_form)
            & is_digit[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15]].all(axis=1)
            & (w[:, 4] == 45)
            & (w[:, 7] == 45)
            & ((w[:, 10] == 32) | (w[:, 10] == 84))
            & (w[:, 13] == 58)
            & (~long_form | ((w[:, 16] == 58) & is_digit[:, 17] & is_digit[:, 18]))
        )
        year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        month = d[:, 5] * 10 + d[:, 6]
        day = d[:, 8] * 10 + d[:, 9]
        hour = d[:, 11] * 10 + d[:, 12]
        minute = d[:, 14] * 10 + d[:, 15]
        second = np.where(long_form, d[:, 17] * 10 + d[:, 18], 0)
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int16)
        last_day = month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
        ok = (
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
        return ok, year.astype(np.int64) * 12 + month - 1, day

    def _amount_ok(self, a, e):
        arr = self.arr
        first = arr[np.minimum(a, arr.size - 1)]
        second = arr[np.minimum(a + 1, arr.size - 1)]
        sign = (first == 36) | (first == 45)  # '$' or '-'
        skip1 = sign & (e - a >= 2) & ((second == 36) | (second == 45)) & (second != first)
        b = a + sign + skip1
        length = e - b
        digits = self._digits(b, e)
        dots, next_dot = self._dots(b, e)
        integer_digits = np.where(dots == 1, next_dot - b, length)
        decimals = np.where(dots == 1, e - next_dot - 1, 0)
        return (
            (length >= 1)
            & (digits + dots == length)
            & (dots <= 1)
            & (integer_digits >= 1)
            & (integer_digits <= 10)
            & ((dots == 0) | ((decimals >= 1) & (decimals <= 2)))
        )


class LabelChecks(_VectorBase):
    """Labels as CSV rows `id,label` (see readers.LabelsReader)."""

    ncols = 2
    marker_column = 1
    id_column = 0

    def fields(self, f: list[str], line_number: int = 0) -> tuple[Problem | None, int | None]:
        if not _DIGITS.match(f[0]):
            return ("bad_value", f"transaction id {_quote(f[0])} is not a number"), None
        if f[1] not in ("Yes", "No"):
            return ("bad_value", f"label {_quote(f[1])} is not Yes or No"), None
        return None, int(f[0])

    def vector(self, arr, comma, starts, ends, lines, commas_per_line, first_line: int = 0):
        self._prepare(arr)
        fs, fe = field_bounds(comma, starts, ends, lines, self.ncols, commas_per_line)
        n = fe - fs
        id_ok = self._int_ok(fs[:, 0], fe[:, 0])
        w = self._gather(fs[:, 1], 3)
        yes = (n[:, 1] == 3) & (w[:, 0] == 89) & (w[:, 1] == 101) & (w[:, 2] == 115)
        no = (n[:, 1] == 2) & (w[:, 0] == 78) & (w[:, 1] == 111)
        problems = {}
        for position in np.flatnonzero(~id_ok | ~(yes | no)).tolist():
            fields = [bytes(arr[fs[position, k] : fe[position, k]]).decode("utf-8", "replace") for k in range(2)]
            problems[int(lines[position])] = self.fields(fields)[0]
        ids = np.full(lines.size, -1, dtype=np.int64)
        good = id_ok & (yes | no)
        ids[good] = self._int_values(fs[good, 0], n[good, 0])
        return problems, ids


class OrderTracker:
    """Ids that did not come in increasing order: in a sorted delivery only real repeats. The
    database then checks just these ids for earlier occurrences in the same file."""

    def __init__(self):
        self.max_seen = -1
        self.min_seen: int | None = None  # with max_seen: the range of the file's good ids
        self.candidates: list[np.ndarray] = []
        self.count = 0

    def feed(self, ids: np.ndarray) -> None:
        if ids.size == 0:
            return
        running = np.maximum.accumulate(ids)
        before = np.empty_like(running)
        before[0] = self.max_seen
        before[1:] = np.maximum(running[:-1], self.max_seen)
        out_of_order = ids[ids <= before]
        if out_of_order.size:
            self.candidates.append(np.unique(out_of_order))
            self.count += out_of_order.size
        self.max_seen = max(self.max_seen, int(running[-1]))
        low = int(ids.min())
        self.min_seen = low if self.min_seen is None else min(self.min_seen, low)

    def ids(self) -> np.ndarray:
        if not self.candidates:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(self.candidates))
