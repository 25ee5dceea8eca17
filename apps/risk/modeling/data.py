"""The claims table a model learns from, and its split by group (a driver, a policy)."""

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PARTS = ("train", "validation", "test")
# A third of the drivers held out for the test; of the rest, a quarter validates (early stopping,
# learning rate and depth, calibration) and three quarters train.
DEFAULT_TEST_SHARE = 0.33
VALIDATION_SHARE_OF_REST = 0.25


def fractions_for(test_share: float = DEFAULT_TEST_SHARE) -> tuple[float, float, float]:
    if not 0 < test_share < 1:
        raise ValueError(f"the test share must be between 0 and 1, not {test_share}")
    rest = 1.0 - test_share
    return (rest * (1 - VALIDATION_SHARE_OF_REST), rest * VALIDATION_SHARE_OF_REST, test_share)


DEFAULT_FRACTIONS = fractions_for()


def split_by_group(
    groups: np.ndarray | pd.Series, *, seed: int = 0, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> np.ndarray:
    """Assigns every row to train / validation / test so that all rows of one group (a driver, a
    policy) land in the same part. Deterministic for a seed."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError("fractions must be three positive shares summing to 1")
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if len(unique) < 3:
        raise ValueError(f"need at least 3 distinct groups to split, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    n_test = max(1, round(fractions[2] * len(unique)))
    n_val = max(1, round(fractions[1] * len(unique)))
    n_train = len(unique) - n_val - n_test
    if n_train < 1:
        n_val, n_train = n_val - 1, n_train + 1
    part_of_group = np.empty(len(unique), dtype=object)
    part_of_group[order[:n_train]] = "train"
    part_of_group[order[n_train : n_train + n_val]] = "validation"
    part_of_group[order[n_train + n_val :]] = "test"
    return part_of_group[np.searchsorted(unique, groups)]


def split_given_test(groups: np.ndarray | pd.Series, test: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Parts for a table whose test rows are given (`test` mask): the other rows split into train
    and validation by group (a quarter of the groups validate)."""
    groups = np.asarray(groups)
    test = np.asarray(test, dtype=bool)
    if not test.any() or test.all():
        raise ValueError("both the training and the test rows must be non-empty")
    if np.isin(groups[~test], groups[test]).any():
        raise ValueError("a group has rows on both sides of the given split")
    parts = np.full(len(groups), "test", dtype=object)
    share = VALIDATION_SHARE_OF_REST
    rest = split_by_group(groups[~test], seed=seed, fractions=(1 - share - 1e-6, share, 1e-6))
    parts[~test] = np.where(rest == "test", "train", rest)
    return parts


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over the rows (values and column names) a model was trained on."""
    digest = hashlib.sha256(json.dumps(list(map(str, frame.columns))).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass
class Dataset:
    frame: pd.DataFrame
    features: list[str]
    count_col: str
    exposure_col: str
    categorical: list[str] = field(default_factory=list)
    group_col: str | None = None
    # Features that may be missing (NaN): not measurable for the driver. XGBoost learns where a
    # missing value goes; the GLM gets a `<name>_missing` indicator and 0 in the value's place, so
    # missing is never read as a clean zero.
    missing_ok: list[str] = field(default_factory=list)

    def __post_init__(self):
        missing = [c for c in [*self.features, self.count_col, self.exposure_col] if c not in self.frame.columns]
        if missing:
            raise ValueError(f"missing column(s): {', '.join(missing)}")
        if not self.features:
            raise ValueError("no feature columns")
        counts = pd.to_numeric(self.frame[self.count_col], errors="coerce")
        exposure = pd.to_numeric(self.frame[self.exposure_col], errors="coerce")
        if counts.isna().any() or (counts < 0).any() or (counts != np.floor(counts)).any():
            raise ValueError(f"{self.count_col} must hold non-negative whole numbers")
        if exposure.isna().any() or (exposure <= 0).any():
            raise ValueError(f"{self.exposure_col} must be positive")
        for name in self.features:
            if name in self.categorical:
                continue
            values = pd.to_numeric(self.frame[name], errors="coerce")
            if name in self.missing_ok:
                values = values.fillna(0)
            if values.isna().any():
                raise ValueError(f"feature {name} has missing or non-numeric values (list it as categorical?)")

    @property
    def counts(self) -> np.ndarray:
        return self.frame[self.count_col].to_numpy(dtype=float)

    @property
    def exposure(self) -> np.ndarray:
        return self.frame[self.exposure_col].to_numpy(dtype=float)

    @property
    def groups(self) -> np.ndarray:
        return self.frame[self.group_col].to_numpy() if self.group_col else np.arange(len(self.frame))

    def xgb_matrix(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        frame = self.frame if rows is None else self.frame[rows]
        X = frame[self.features].copy()
        for name in self.features:
            if name in self.categorical:
                X[name] = X[name].astype(str).astype(pd.CategoricalDtype(sorted(self.frame[name].astype(str).unique())))
            else:
                X[name] = X[name].astype(float)
        return X

    def glm_matrix(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        X = self.xgb_matrix()
        for name in self.missing_ok:
            if name in X and X[name].isna().any():
                X.insert(X.columns.get_loc(name) + 1, f"{name}_missing", X[name].isna().astype(float))
                X[name] = X[name].fillna(0.0)
        if self.categorical:
            X = pd.get_dummies(X, columns=self.categorical, drop_first=True, dtype=float)
        X.insert(0, "const", 1.0)
        return X if rows is None else X[rows]
