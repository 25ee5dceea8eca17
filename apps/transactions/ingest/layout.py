"""The delivery layout: which file is which, in what order files are staged and transformed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from apps.common.exceptions import ApplicationError

# The header of each delivery CSV, in file order (the public "Financial Transactions Dataset"
# layout): files are checked against it and staged by it; the demo's generator writes it.
TRANSACTION_COLUMNS = [
    "id", "date", "client_id", "card_id", "amount", "use_chip",
    "merchant_id", "merchant_city", "merchant_state", "zip", "mcc", "errors",
]  # fmt: skip
USER_COLUMNS = [
    "id", "current_age", "retirement_age", "birth_year", "birth_month", "gender", "address",
    "latitude", "longitude", "per_capita_income", "yearly_income", "total_debt", "credit_score",
    "num_credit_cards",
]  # fmt: skip
CARD_COLUMNS = [
    "id", "client_id", "card_brand", "card_type", "card_number", "expires", "cvv", "has_chip",
    "num_cards_issued", "credit_limit", "acct_open_date", "year_pin_last_changed", "card_on_dark_web",
]  # fmt: skip

COLUMNS = {
    "users": USER_COLUMNS,
    "cards": CARD_COLUMNS,
    "transactions": TRANSACTION_COLUMNS,
}
# Transform order: reference data first, labels are prepared before the transactions they label.
KIND_ORDER = {"mcc": 0, "users": 1, "cards": 2, "labels": 3, "transactions": 4}


@dataclass(frozen=True)
class SourceFile:
    index: int
    path: Path
    kind: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def file_kind(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in (".gz", ".gzip"):
        name = name.removesuffix(suffix)
    if name.endswith(".json"):
        if "label" in name or "fraud" in name:
            return "labels"
        if "mcc" in name:
            return "mcc"
        return None
    if not name.endswith(".csv"):
        return None
    for kind in ("transactions", "users", "cards"):
        if kind in name or (kind == "transactions" and "transaction" in name):
            return kind
    return None


def collect_files(inputs: list[str]) -> list[SourceFile]:
    """Files named by the inputs (directories are read for the known file names), in transform
    order. Unknown names and missing paths are refused before anything is loaded."""
    if not inputs:
        raise ApplicationError("Name a delivery directory or files to ingest.", code="no_input")
    paths: list[Path] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and file_kind(p))
            if not found:
                raise ApplicationError(
                    f"{path}: no delivery files found (users/cards/transactions CSV, mcc/labels JSON)."
                )
            paths.extend(found)
        elif path.is_file():
            if not file_kind(path):
                raise ApplicationError(
                    f"{path.name}: not a delivery file name (expected users_data.csv, cards_data.csv, "
                    "transactions_data.csv, mcc_codes.json or train_fraud_labels.json, optionally .gz)."
                )
            paths.append(path)
        else:
            raise ApplicationError(f"{path}: no such file or directory.", code="not_found")
    unique = list(dict.fromkeys(p.resolve() for p in paths))
    kinds = [file_kind(p) for p in unique]
    if kinds.count("labels") > 1:
        raise ApplicationError("A run takes at most one labels file.")
    ordered = sorted(zip(unique, kinds, strict=True), key=lambda pk: (KIND_ORDER[pk[1]], str(pk[0])))
    return [SourceFile(index=i, path=p, kind=k, size=os.path.getsize(p)) for i, (p, k) in enumerate(ordered, start=1)]
