"""Fixed-width rendering: each field becomes a block of bytes (0 = padding), the blocks are placed
side by side with the separators, and dropping the padding bytes leaves the CSV text."""

from __future__ import annotations

import numpy as np


def _table(strings: list[str]) -> np.ndarray:
    """A vocabulary as a (k, width) uint8 matrix, 0-padded on the right."""
    encoded = [s.encode() for s in strings]
    width = max(1, max(len(s) for s in encoded))
    out = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, s in enumerate(encoded):
        out[i, : len(s)] = np.frombuffer(s, dtype=np.uint8)
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as ASCII digits in `width` bytes, leading zeros as padding."""
    values = values.astype(np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out = ((values[:, None] // powers) % 10 + 48).astype(np.uint8)
    count = np.maximum((values[:, None] >= powers).sum(axis=1), 1)
    out[np.arange(width)[None, :] < (width - count)[:, None]] = 0
    return out


def _zero_padded(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + 48).astype(np.uint8)


def _const(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def _render(blocks: list[np.ndarray]) -> bytes:
    matrix = np.concatenate(blocks, axis=1)
    return matrix[matrix != 0].tobytes()


def _render_csv(fields: list[np.ndarray]) -> bytes:
    n = fields[0].shape[0]
    comma, newline = _const(",", n), _const("\n", n)
    blocks = []
    for i, block in enumerate(fields):
        blocks.append(block)
        blocks.append(newline if i == len(fields) - 1 else comma)
    return _render(blocks)
