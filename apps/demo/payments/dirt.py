"""Bad rows written at the byte level (wrong column counts, broken quoting, invalid UTF-8) and labels
for transactions that were never delivered."""

from __future__ import annotations

import numpy as np


class Dirt:
    """The byte-level dirt and unknown-label steps of the PaymentFileGenerator."""

    def _byte_level_dirt(self, text: bytes, dirty: dict[str, np.ndarray]) -> bytes:
        rng = self.rng
        kinds = {k: dirty[k] for k in ("column_count", "bad_quoting", "bad_encoding") if dirty[k].size}
        if not kinds:
            return text
        ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
        starts = np.concatenate([[0], ends[:-1] + 1])
        replace = {}
        for kind_name, rows in kinds.items():
            for row in rows.tolist():
                line = text[starts[row] : ends[row]]
                parts = line.split(b",")
                if kind_name == "column_count":
                    if rng.random() < 0.5:
                        number = self.card_numbers[int(rng.integers(0, len(self.card_numbers)))]
                        line = line + f",{number},{int(rng.integers(100, 1000))}".encode()  # a leaked card
                    else:
                        line = b",".join(parts[:-2])
                elif kind_name == "bad_quoting":
                    parts[7] = b'"' + parts[7]
                    line = b",".join(parts)
                else:
                    parts[7] = parts[7][:2] + b"\xfc\xff" + parts[7][2:]
                    line = b",".join(parts)
                replace[row] = line
        out = []
        position = 0
        for row in sorted(replace):
            out.append(text[position : starts[row]])
            out.append(replace[row])
            position = ends[row]
        out.append(text[position:])
        return b"".join(out)

    def _write_unknown_labels(self, fh, first: bool) -> None:
        rng = self.rng
        count = rng.binomial(self.n, self.dirty_share) if self.dirty_share else 0
        if not count:
            return
        # Ids beyond the last transaction: never delivered.
        ids = self.next_id + 1 + np.sort(rng.choice(np.arange(1, count * 10 + 10), size=count, replace=False))
        body = ", ".join(f'"{int(i)}": "{"Yes" if rng.random() < 0.5 else "No"}"' for i in ids)
        fh.write((body if first else ", " + body).encode())
        self.dirty_counts["unknown_transaction"] += count
        self.labels_written += count
