"""Synthetic card-payment deliveries in the layout of the public "Financial Transactions Dataset"
(users_data.csv, cards_data.csv, transactions_data.csv, mcc_codes.json, train_fraud_labels.json).

The real data set cannot be downloaded here, so this writes files with the same columns and
value formats and with realistic shapes: clients with several cards, spending by hour of day
and merchant category, refunds, an online share, error lists and a fraud rate near 0.15 %
concentrated at night and in a few categories. At `dirty_share` it also writes each kind of bad
row the pipeline must reject.

Transactions and labels are generated in numpy chunks and rendered without a per-row Python
loop: each field becomes a fixed-width block of bytes (0 = padding), the blocks are placed side
by side with the separators, and dropping the padding bytes leaves the CSV text (render.py).

The column lists are the ingest's (apps.transactions.ingest.layout); profiles.py holds the shapes
of the data, and each file is written by its own step: reference.py (users, cards, MCC codes),
transactions.py (transactions and labels), dirt.py (byte-level bad rows, unknown labels).
"""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apps.demo.payments.dirt import Dirt
from apps.demo.payments.profiles import DIRTY_KINDS
from apps.demo.payments.reference import ReferenceFiles
from apps.demo.payments.transactions import TransactionFiles


@dataclass
class GeneratedFiles:
    directory: Path
    paths: dict[str, Path]
    transactions: int
    users: int
    cards: int
    labels: int
    dirty: dict[str, int] = field(default_factory=dict)
    fraud: int = 0
    fraud_labelled: int = 0


class PaymentFileGenerator(ReferenceFiles, TransactionFiles, Dirt):
    CHUNK = 200_000

    def __init__(
        self,
        *,
        transactions: int,
        out: Path,
        dirty_share: float = 0.001,
        seed: int = 42,
        gzip_output: bool = False,
        start: dt.date = dt.date(2010, 1, 1),
        years: float = 10.0,
        users: int | None = None,
        label_share: float = 0.67,
    ):
        if transactions < 1:
            raise ValueError("transactions must be at least 1")
        if not 0 <= dirty_share <= 0.05:
            raise ValueError("dirty_share must be between 0 and 0.05 (the share of rows per dirty kind)")
        self.n = transactions
        self.out = Path(out)
        self.dirty_share = dirty_share
        self.rng = np.random.default_rng(seed)
        self.gzip = gzip_output
        self.start = np.datetime64(start.isoformat(), "m")
        self.minutes = int(years * 365.25 * 24 * 60)
        self.n_users = users or int(np.clip(transactions // 2000, 20, 200_000))
        self.label_share = label_share
        self.dirty_counts = dict.fromkeys(DIRTY_KINDS, 0)
        self.fraud = 0
        self.fraud_labelled = 0
        self.labels_written = 0

    # ---- files ----

    def _open(self, name: str):
        path = self.out / (name + (".gz" if self.gzip else ""))
        raw = open(path, "wb")  # noqa: SIM115 - closed by the caller
        if self.gzip:
            return path, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1), raw
        return path, raw, None

    def generate(self) -> GeneratedFiles:
        self.out.mkdir(parents=True, exist_ok=True)
        paths = {}
        paths["users"] = self._write_users()
        paths["cards"] = self._write_cards()
        paths["mcc"] = self._write_mcc()
        paths["transactions"], paths["labels"] = self._write_transactions_and_labels()
        return GeneratedFiles(
            directory=self.out,
            paths=paths,
            transactions=self.n,
            users=self.n_users,
            cards=int(self.card_client.size),
            labels=self.labels_written,
            dirty={k: v for k, v in self.dirty_counts.items() if v},
            fraud=self.fraud,
            fraud_labelled=self.fraud_labelled,
        )


def payment_files_generate(
    *,
    transactions: int,
    out: Path,
    dirty_share: float = 0.001,
    seed: int = 42,
    gzip_output: bool = False,
    users: int | None = None,
    years: float = 10.0,
) -> GeneratedFiles:
    """Writes the five files of a delivery into `out` (see the module docstring)."""
    return PaymentFileGenerator(
        transactions=transactions,
        out=out,
        dirty_share=dirty_share,
        seed=seed,
        gzip_output=gzip_output,
        users=users,
        years=years,
    ).generate()
