"""Streaming readers: turn delivery files into bytes that COPY accepts, without holding a file in
memory, and set aside the lines COPY would choke on (bad UTF-8, NUL bytes, wrong column count,
broken quoting) with their line number, reason and masked text.

A set-aside line is replaced in the stream by a placeholder row (a marker in the first column,
the rest empty), so the staging table's row ordinal stays equal to the file's data-row number
and every later rejection can name its line.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.transactions.ingest.masking import mask_line, mask_text

BLOCK_SIZE = 4 << 20

_FIELD = rb'(?:[^",\n]*|"(?:[^"]|"")*")'


@dataclass(frozen=True)
class Rejection:
    line_number: int
    reason: str
    detail: str
    raw: str  # already masked


class HeaderError(ValueError):
    pass


def open_binary(path: Path):
    """The file's bytes, gunzipped when the name ends in .gz or the content is gzip."""
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb"), fh
    return fh, fh


def check_header(line: bytes, expected: list[str], file_name: str) -> None:
    text = line.decode("utf-8-sig", "replace").rstrip("\r\n")
    try:
        got = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        got = []
    got = [name.strip() for name in got]
    if got == expected:
        return
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    parts = []
    if missing:
        parts.append("missing column(s): " + ", ".join(missing))
    if extra:
        parts.append("unexpected column(s): " + ", ".join(mask_text(c) for c in extra))
    if not parts:
        parts.append("columns out of order: expected " + ",".join(expected))
    raise HeaderError(f"{file_name}: header is not the expected one; " + "; ".join(parts) + ". Nothing was loaded.")


def read_header(path: Path) -> bytes:
    stream, raw = open_binary(path)
    try:
        return stream.readline(1 << 16)
    finally:
        stream.close()
        raw.close()


class BlockCleaner:
    """Checks CSV blocks (whole lines) with numpy for the whole block at once: commas, quotes,
    carriage returns and NUL bytes per line, UTF-8 for the block. Only lines that contain a quote
    or fail a check are looked at one by one; the bad ones become placeholders."""

    def __init__(
        self, *, ncols: int, marker: str, on_reject: Callable[[Rejection], None], checks=None, header_lines: int = 1
    ):
        self.ncols = ncols
        self.header_lines = header_lines
        self.checks = checks
        placeholder = [""] * ncols
        placeholder[checks.marker_column if checks else 0] = marker
        self.placeholder = (",".join(placeholder) + "\n").encode()
        self.on_reject = on_reject
        self.rows = 0
        self.rejected = 0
        self._quoted_line = re.compile(rb"^" + _FIELD + rb"(?:," + _FIELD + rb")*$")
        if checks is not None:
            from apps.transactions.ingest.checks import OrderTracker

            self.order = OrderTracker()

    def clean(self, block: bytes) -> bytes:
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        arr = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        if ends.size == 0:
            return b""
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        first_line = self.header_lines + self.rows + 1
        self.rows += ends.size
        comma = np.flatnonzero(arr == 44)
        commas = np.diff(np.searchsorted(comma, ends), prepend=0)
        suspect = commas != self.ncols - 1
        if 34 in block:
            suspect[np.searchsorted(ends, np.flatnonzero(arr == 34))] = True
        for odd in (13, 0):
            if odd in block:
                suspect[np.searchsorted(ends, np.flatnonzero(arr == odd))] = True
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            suspect[np.searchsorted(ends, np.flatnonzero(arr >= 128))] = True
        problems: dict[int, tuple[str, str]] = {}
        slow_ids: dict[int, int] = {}
        for i in np.flatnonzero(suspect).tolist():
            line = block[starts[i] : ends[i]]
            problem = self.classify(line)
            if problem is None and self.checks is not None:
                problem, ident = self.checks.fields(next(csv.reader([line.decode("utf-8")])), first_line + i)
                if problem is None:
                    slow_ids[i] = ident
            if problem:
                problems[i] = problem
        if self.checks is not None:
            lines = np.flatnonzero(~suspect)
            vector_problems, ids = (
                self.checks.vector(arr, comma, starts, ends, lines, commas, first_line) if lines.size else ({}, lines)
            )
            problems.update(vector_problems)
            if slow_ids:
                lines = np.concatenate([lines, np.fromiter(slow_ids, dtype=np.int64)])
                ids = np.concatenate([ids, np.fromiter(slow_ids.values(), dtype=np.int64)])
                ids = ids[np.argsort(lines, kind="stable")]
            self.order.feed(ids[ids >= 0])
        if not problems:
            return block
        out = []
        position = 0
        for i in sorted(problems):
            reason, detail = problems[i]
            self.rejected += 1
            self.on_reject(Rejection(first_line + i, reason, detail, mask_line(block[starts[i] : ends[i]])))
            out.append(block[position : starts[i]])
            out.append(self.placeholder)
            position = ends[i] + 1
        out.append(block[position:])
        return b"".join(out)

    def classify(self, line: bytes) -> tuple[str, str] | None:
        """Why COPY could not take this line as one row of `ncols` columns, or None when it can."""
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "bad_encoding", f"invalid UTF-8 at byte {exc.start + 1}"
        if b"\x00" in line:
            return "bad_encoding", "NUL byte in line"
        if b"\r" in line:
            return "bad_value", "carriage return inside the line"
        if line.strip() == b"\\.":
            return "column_count", "end-of-data marker line"
        if b'"' in line:
            if line.count(b'"') % 2 or not self._quoted_line.match(line):
                return "bad_quoting", "unbalanced or misplaced double quote"
            count = len(next(csv.reader([line.decode("utf-8")])))
        else:
            count = line.count(b",") + 1 if line else 0
        if count != self.ncols:
            return "column_count", f"{count} columns, expected {self.ncols}"
        return None


class CsvBlockReader:
    """Yields COPY-ready CSV blocks of a file with `columns` columns (header checked, skipped)."""

    def __init__(
        self,
        path: Path,
        *,
        columns: list[str],
        marker: str,
        on_reject: Callable[[Rejection], None],
        checks=None,
        block_size: int = BLOCK_SIZE,
    ):
        self.path = Path(path)
        self.columns = columns
        self.cleaner = BlockCleaner(ncols=len(columns), marker=marker, on_reject=on_reject, checks=checks)
        self.block_size = block_size
        self.bytes_read = 0  # on-disk bytes (compressed size for .gz)
        self.digest = hashlib.sha256()

    @property
    def rows(self) -> int:
        return self.cleaner.rows

    def __iter__(self) -> Iterator[bytes]:
        stream, raw = open_binary(self.path)
        try:
            header = stream.readline(1 << 16)
            self.digest.update(header)
            check_header(header, self.columns, self.path.name)
            carry = b""
            while True:
                chunk = stream.read(self.block_size)
                self.bytes_read = raw.tell()
                if not chunk:
                    break
                self.digest.update(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if cut:
                    yield self.cleaner.clean(data[:cut])
            if carry:
                yield self.cleaner.clean(carry + b"\n")
        finally:
            stream.close()
            raw.close()


class RowReader:
    """Small files (users, cards): one parsed row at a time, for per-row work in Python such as
    replacing a card number by its HMAC before anything reaches the database."""

    def __init__(
        self,
        path: Path,
        *,
        columns: list[str],
        on_reject: Callable[[Rejection], None],
        mask: Callable[[bytes], str] | None = None,
    ):
        self.path = Path(path)
        self.columns = columns
        self.on_reject = on_reject
        self.mask = mask or mask_line
        self.rows = 0
        self.bytes_read = 0
        self.digest = hashlib.sha256()
        self._checker = BlockCleaner(ncols=len(columns), marker="", on_reject=on_reject)

    def __iter__(self) -> Iterator[tuple[int, list[str], bytes]]:
        stream, raw = open_binary(self.path)
        try:
            header = stream.readline(1 << 16)
            self.digest.update(header)
            check_header(header, self.columns, self.path.name)
            for line in stream:
                self.digest.update(line)
                self.rows += 1
                self.bytes_read = raw.tell()
                body = line.rstrip(b"\n").removesuffix(b"\r")
                problem = self._checker.classify(body)
                if problem:
                    self.on_reject(Rejection(self.rows + 1, problem[0], problem[1], self.mask(body)))
                    continue
                fields = next(csv.reader([body.decode("utf-8")])) if body else [""]
                yield self.rows + 1, fields, body
        finally:
            stream.close()
            raw.close()


class LabelsReader:
    """`{"target": {"10649266": "No", ...}}` streamed as CSV rows `id,label` without parsing the
    whole document: the object is flat, so dropping quotes and whitespace and turning the
    separators into CSV is enough, block by block. Entries that do not come out as two fields
    are set aside like bad CSV lines (their "line number" is the entry's position)."""

    PREFIX = re.compile(rb'^\s*\{\s*"target"\s*:\s*\{')
    SUFFIX = re.compile(rb"\}\s*\}\s*$")

    def __init__(
        self,
        path: Path,
        *,
        marker: str,
        on_reject: Callable[[Rejection], None],
        checks=None,
        block_size: int = BLOCK_SIZE,
    ):
        self.path = Path(path)
        self.block_size = block_size
        # The "line number" of a label is its position among the entries.
        self.cleaner = BlockCleaner(ncols=2, marker=marker, on_reject=on_reject, checks=checks, header_lines=0)
        self.bytes_read = 0
        self.digest = hashlib.sha256()

    @property
    def rows(self) -> int:
        return self.cleaner.rows

    def check(self) -> None:
        stream, raw = open_binary(self.path)
        try:
            if not self.PREFIX.match(stream.read(4096)):
                raise HeaderError(
                    f'{self.path.name}: expected a JSON object {{"target": {{"<transaction id>": "Yes"|"No", ...}}}}. '
                    "Nothing was loaded."
                )
        finally:
            stream.close()
            raw.close()

    def __iter__(self) -> Iterator[bytes]:
        self.check()
        stream, raw = open_binary(self.path)
        try:
            head = stream.read(4096)
            self.digest.update(head)
            carry = head[self.PREFIX.match(head).end() :]
            while True:
                chunk = stream.read(self.block_size)
                self.bytes_read = raw.tell()
                self.digest.update(chunk)
                data = carry + chunk
                if chunk:
                    cut = data.rfind(b",") + 1
                    body, carry = data[:cut], data[cut:]
                else:
                    closing = self.SUFFIX.search(data)
                    if not closing:
                        raise HeaderError(f"{self.path.name}: the JSON document does not end with '}}}}'.")
                    body = data[: closing.start()]
                text = body.translate(None, b'" \t\r\n').replace(b",", b"\n").replace(b":", b",")
                if text and not text.endswith(b"\n"):
                    text += b"\n"
                if text:
                    yield self.cleaner.clean(text)
                if not chunk:
                    break
        finally:
            stream.close()
            raw.close()
