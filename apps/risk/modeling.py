"""The claim-frequency procedure shared by `train_risk_model` and `risk_benchmark`: split by group,
XGBoost Poisson with log-exposure as base margin beside a Poisson GLM with the same offset, and
the actuarial test-set metrics. Pure numpy/pandas: nothing here touches the database.

Conventions (those of scikit-learn's freMTPL2 example, so figures compare):
- mean Poisson deviance is the exposure-weighted deviance of the frequency, i.e. the total
  deviance of the counts divided by the total exposure;
- D² = 1 - deviance(model) / deviance(test-set mean frequency);
- Gini from the Lorenz curve of cumulated exposure (ranked by predicted frequency) against
  cumulated observed claims; normalised by the Gini of the oracle ranking (observed frequency).
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

PARTS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)

# Chosen for the cost of exact SHAP (pred_contribs), which grows with trees x leaves x depth:
# measured here, 100 trees of depth 3 explain about 3x faster than depth 4 and 15x faster than
# 100 of depth 6 (the 300-tree reference stops early on these data). On the benchmark drivers
# depth 3 is as accurate as 4 and 6; on freMTPL it gives up 0.3% of test deviance to depth 4.
# Every training run measures it again (`size_tradeoff` in the model card).
XGB_PARAMS = {
    "objective": "count:poisson",
    "eval_metric": "poisson-nloglik",
    "tree_method": "hist",
    "max_depth": 3,
    "eta": 0.1,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bynode": 0.8,
    "lambda": 1.0,
}
XGB_MAX_TREES = 100
EARLY_STOPPING_ROUNDS = 20
# The sizes the chosen one is compared to on every run: a deeper one and the large one that exact
# SHAP makes too slow.
COMPARED_SIZES = (("deeper", 4, 100), ("reference", 6, 300))


# --- split -------------------------------------------------------------------------------------


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
    n_train = max(1, round(fractions[0] * len(unique)))
    n_val = max(1, round(fractions[1] * len(unique)))
    n_train = min(n_train, len(unique) - n_val - 1)
    part_of_group = np.empty(len(unique), dtype=object)
    part_of_group[order[:n_train]] = "train"
    part_of_group[order[n_train : n_train + n_val]] = "validation"
    part_of_group[order[n_train + n_val :]] = "test"
    return part_of_group[np.searchsorted(unique, groups)]


# --- metrics -----------------------------------------------------------------------------------


def _as_arrays(counts, exposure, predicted_counts):
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    mu = np.asarray(predicted_counts, dtype=float)
    if not (len(y) == len(e) == len(mu)) or len(y) == 0:
        raise ValueError("counts, exposure and predictions must be non-empty and of one length")
    if (e <= 0).any():
        raise ValueError("exposure must be positive")
    if (mu <= 0).any():
        raise ValueError("predicted claim counts must be positive")
    return y, e, mu


def poisson_deviance_total(counts, predicted_counts) -> float:
    y = np.asarray(counts, dtype=float)
    mu = np.asarray(predicted_counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(ylogy - (y - mu)))


def mean_poisson_deviance(counts, exposure, predicted_counts) -> float:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    return poisson_deviance_total(y, mu) / float(e.sum())


def d2_poisson(counts, exposure, predicted_counts) -> float:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    null = e * (y.sum() / e.sum())
    null_dev = poisson_deviance_total(y, null)
    if null_dev == 0:
        return 0.0
    return 1.0 - poisson_deviance_total(y, mu) / null_dev


def lorenz_curve(counts, exposure, ranking_frequency) -> tuple[np.ndarray, np.ndarray]:
    """Cumulated exposure share and cumulated claim share, safest (lowest ranking) first, from 0."""
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    order = np.argsort(np.asarray(ranking_frequency, dtype=float), kind="mergesort")
    cum_e = np.concatenate([[0.0], np.cumsum(e[order]) / e.sum()])
    total = y.sum()
    cum_y = np.concatenate([[0.0], np.cumsum(y[order]) / total]) if total > 0 else np.zeros(len(y) + 1)
    return cum_e, cum_y


def gini(counts, exposure, ranking_frequency) -> float:
    """1 - 2 x area under the Lorenz curve (a model ranking risks well has a curve far below the
    diagonal, hence a high Gini)."""
    cum_e, cum_y = lorenz_curve(counts, exposure, ranking_frequency)
    area = float(np.sum((cum_e[1:] - cum_e[:-1]) * (cum_y[1:] + cum_y[:-1]) / 2.0))
    return 1.0 - 2.0 * area


def normalised_gini(counts, exposure, predicted_frequency) -> float:
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    oracle = gini(y, e, y / e)
    return gini(y, e, predicted_frequency) / oracle if oracle > 0 else 0.0


def calibration_by_decile(counts, exposure, predicted_counts, *, bins: int = 10) -> list[dict]:
    """Rows ranked by predicted frequency, cut into `bins` groups of about equal exposure."""
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    order = np.argsort(mu / e, kind="mergesort")
    y, e, mu = y[order], e[order], mu[order]
    mid = (np.cumsum(e) - e / 2.0) / e.sum()
    decile = np.minimum((mid * bins).astype(int), bins - 1)
    table = []
    for d in range(bins):
        mask = decile == d
        if not mask.any():
            continue
        exp_d = float(e[mask].sum())
        table.append(
            {
                "decile": d + 1,
                "rows": int(mask.sum()),
                "exposure": round(exp_d, 4),
                "predicted_claims": round(float(mu[mask].sum()), 4),
                "observed_claims": round(float(y[mask].sum())),
                "predicted_frequency": round(float(mu[mask].sum()) / exp_d, 5),
                "observed_frequency": round(float(y[mask].sum()) / exp_d, 5),
            }
        )
    return table


def poisson_metrics(counts, exposure, predicted_counts) -> dict:
    y, e, mu = _as_arrays(counts, exposure, predicted_counts)
    return {
        "rows": len(y),
        "exposure": float(e.sum()),
        "mean_poisson_deviance": mean_poisson_deviance(y, e, mu),
        "d2": d2_poisson(y, e, mu),
        "gini": gini(y, e, mu / e),
        "normalised_gini": normalised_gini(y, e, mu / e),
        "total_predicted": float(mu.sum()),
        "total_observed": float(y.sum()),
        "predicted_over_observed": float(mu.sum() / y.sum()) if y.sum() > 0 else None,
        "calibration": calibration_by_decile(y, e, mu),
    }


# --- data --------------------------------------------------------------------------------------


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
        if self.categorical:
            X = pd.get_dummies(X, columns=self.categorical, drop_first=True, dtype=float)
        X.insert(0, "const", 1.0)
        return X if rows is None else X[rows]


# --- training ----------------------------------------------------------------------------------


def xgb_fit(
    dataset: Dataset,
    parts: np.ndarray,
    *,
    monotone: dict[str, int] | None = None,
    max_depth: int = XGB_PARAMS["max_depth"],
    max_trees: int = XGB_MAX_TREES,
    seed: int = 0,
) -> xgb.Booster:
    train, val = parts == "train", parts == "validation"
    params = {**XGB_PARAMS, "max_depth": max_depth, "seed": seed}
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(monotone.get(f, 0)) for f in dataset.features) + ")"
    enable_cat = bool(dataset.categorical)
    dtrain = xgb.DMatrix(
        dataset.xgb_matrix(train),
        label=dataset.counts[train],
        base_margin=np.log(dataset.exposure[train]),
        enable_categorical=enable_cat,
    )
    dval = xgb.DMatrix(
        dataset.xgb_matrix(val),
        label=dataset.counts[val],
        base_margin=np.log(dataset.exposure[val]),
        enable_categorical=enable_cat,
    )
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max_trees,
        evals=[(dval, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    best = booster.best_iteration
    booster = booster[: best + 1]  # keep only the trees early stopping chose
    booster.set_attr(best_iteration=str(best))
    return booster


def xgb_predict_counts(booster: xgb.Booster, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    return booster.predict(
        xgb.DMatrix(
            dataset.xgb_matrix(rows),
            base_margin=np.log(dataset.exposure[rows]),
            enable_categorical=bool(dataset.categorical),
        )
    )


def glm_fit(dataset: Dataset, parts: np.ndarray):
    import statsmodels.api as sm

    train = parts == "train"
    X = dataset.glm_matrix(train)
    keep = [c for c in X.columns if c == "const" or X[c].std() > 0]  # a constant column makes X singular
    model = sm.GLM(dataset.counts[train], X[keep], family=sm.families.Poisson(), offset=np.log(dataset.exposure[train]))
    return model.fit(), keep


def glm_predict_counts(glm, columns: list[str], dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    X = dataset.glm_matrix(rows)
    for column in columns:
        if column not in X:
            X[column] = 0.0
    return np.asarray(glm.predict(X[columns], offset=np.log(dataset.exposure[rows])))


def contribs_rate(booster: xgb.Booster, X: pd.DataFrame, *, rows: int = 2000) -> float:
    """Rows per second of exact SHAP (pred_contribs) with this booster on one thread."""
    sample = X.iloc[: min(rows, len(X))]
    matrix = xgb.DMatrix(sample, base_margin=np.zeros(len(sample)), enable_categorical=True)
    booster.set_param({"nthread": 1})
    start = time.perf_counter()
    booster.predict(matrix, pred_contribs=True)
    elapsed = time.perf_counter() - start
    booster.set_param({"nthread": 0})
    return len(sample) / elapsed if elapsed > 0 else float("inf")


SHAP_SUMMARY_ROWS = 5000


def shap_summary(booster: xgb.Booster, X: pd.DataFrame, *, seed: int = 0) -> list[dict]:
    """Mean |SHAP| per feature on X (a seeded sample of at most SHAP_SUMMARY_ROWS rows), computed
    with the `shap` package (the reference explainer), with the direction: the correlation
    between a feature's value and its SHAP value."""
    import shap

    if len(X) > SHAP_SUMMARY_ROWS:
        X = X.sample(SHAP_SUMMARY_ROWS, random_state=seed)
    values = np.asarray(shap.TreeExplainer(booster).shap_values(X))
    total = float(np.abs(values).mean(axis=0).sum()) or 1.0
    rows = []
    for j, name in enumerate(X.columns):
        column = values[:, j]
        x = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float)
        direction = None
        if np.nanstd(x) > 0 and column.std() > 0:
            direction = float(np.corrcoef(np.nan_to_num(x), column)[0, 1])
        mean_abs = float(np.abs(column).mean())
        rows.append(
            {
                "feature": name,
                "mean_abs_shap": round(mean_abs, 6),
                "share": round(mean_abs / total, 4),
                "rate_ratio_of_mean_abs": round(float(np.exp(mean_abs)), 4),
                "value_shap_correlation": None if direction is None else round(direction, 3),
            }
        )
    return sorted(rows, key=lambda r: -r["mean_abs_shap"])


def feature_importances(booster: xgb.Booster, features: list[str]) -> list[dict]:
    gain = booster.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    return sorted(
        ({"feature": f, "total_gain_share": round(gain.get(f, 0.0) / total, 4)} for f in features),
        key=lambda r: -r["total_gain_share"],
    )


@dataclass
class ComparisonResult:
    booster: xgb.Booster
    glm: object
    glm_columns: list[str]
    parts: np.ndarray
    metrics: dict  # {"xgboost": {...}, "glm": {...}, "split": {...}}
    size_tradeoff: list[dict]
    importances: list[dict]
    glm_coefficients: list[dict]


def compare(
    dataset: Dataset, *, monotone: dict[str, int] | None = None, seed: int = 0, size_tradeoff: bool = True
) -> ComparisonResult:
    """The whole procedure: split by group, fit both models, score both on the test part."""
    parts = split_by_group(dataset.groups, seed=seed)
    test = parts == "test"
    if dataset.counts[parts == "train"].sum() == 0:
        raise ValueError("no claims in the training part: nothing to learn a frequency from")
    booster = xgb_fit(dataset, parts, monotone=monotone, seed=seed)
    glm, glm_columns = glm_fit(dataset, parts)
    y, e = dataset.counts[test], dataset.exposure[test]
    xgb_mu = xgb_predict_counts(booster, dataset, test)
    glm_mu = glm_predict_counts(glm, glm_columns, dataset, test)
    metrics = {
        "xgboost": {**poisson_metrics(y, e, xgb_mu), "trees": booster.num_boosted_rounds()},
        "glm": poisson_metrics(y, e, glm_mu),
        "split": {
            part: {
                "rows": int((parts == part).sum()),
                "groups": len(np.unique(dataset.groups[parts == part])),
                "claims": float(dataset.counts[parts == part].sum()),
                "exposure": float(dataset.exposure[parts == part].sum()),
            }
            for part in PARTS
        },
    }
    tradeoff = []
    if size_tradeoff:
        X_test = dataset.xgb_matrix(test)
        tradeoff.append(_size_row(booster, "chosen", XGB_PARAMS["max_depth"], metrics["xgboost"], X_test))
        for label, depth, trees in COMPARED_SIZES:
            other = xgb_fit(dataset, parts, monotone=monotone, seed=seed, max_depth=depth, max_trees=trees)
            other_metrics = poisson_metrics(y, e, xgb_predict_counts(other, dataset, test))
            tradeoff.append(_size_row(other, label, depth, other_metrics, X_test))
    coefficients = [
        {
            "term": name,
            "coefficient": round(float(coef), 6),
            "rate_ratio": round(float(np.exp(coef)), 4),
            "p_value": round(float(p), 6),
        }
        for name, coef, p in zip(glm_columns, glm.params, glm.pvalues, strict=True)
    ]
    return ComparisonResult(
        booster=booster,
        glm=glm,
        glm_columns=glm_columns,
        parts=parts,
        metrics=metrics,
        size_tradeoff=tradeoff,
        importances=feature_importances(booster, dataset.features),
        glm_coefficients=coefficients,
    )


def _size_row(booster, label, depth, metrics, X_test) -> dict:
    return {
        "model": label,
        "trees": booster.num_boosted_rounds(),
        "max_depth": depth,
        "test_mean_poisson_deviance": round(metrics["mean_poisson_deviance"], 6),
        "test_d2": round(metrics["d2"], 5),
        "test_normalised_gini": round(metrics["normalised_gini"], 5),
        "pred_contribs_rows_per_s_1_thread": round(contribs_rate(booster, X_test)),
    }


# --- artifacts ---------------------------------------------------------------------------------


def booster_save(booster: xgb.Booster, path: Path, *, feature_names: list[str], training_data_hash: str) -> None:
    """XGBoost's own JSON format (never pickle); the feature list and data hash travel inside."""
    if path.suffix != ".json":
        raise ValueError("risk models are saved as XGBoost JSON (.json)")
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.feature_names = list(feature_names)
    booster.set_attr(feature_list=json.dumps(list(feature_names)), training_data_hash=training_data_hash)
    booster.save_model(str(path))


def booster_load(path: Path) -> xgb.Booster:
    if Path(path).suffix != ".json":
        raise ValueError("risk models are loaded from XGBoost JSON (.json) only")
    booster = xgb.Booster()
    booster.load_model(str(path))
    return booster


def comparison_lines(metrics: dict, size_tradeoff: list[dict] | None = None) -> list[str]:
    """The XGBoost-vs-GLM comparison as plain-text table lines (commands and the bench print it)."""
    lines = [f"{'test part':<34}{'XGBoost':>12}{'GLM':>12}"]
    for key, label, fmt in (
        ("mean_poisson_deviance", "mean Poisson deviance", "{:.4f}"),
        ("d2", "D² (deviance explained)", "{:.4f}"),
        ("gini", "Gini (Lorenz, exposure)", "{:.4f}"),
        ("normalised_gini", "normalised Gini", "{:.4f}"),
        ("total_predicted", "total predicted claims", "{:.1f}"),
        ("total_observed", "total observed claims", "{:.0f}"),
    ):
        xgb_value, glm_value = metrics["xgboost"][key], metrics["glm"][key]
        lines.append(f"{label:<34}{fmt.format(xgb_value):>12}{fmt.format(glm_value):>12}")
    lines.append("")
    lines.append("calibration by decile of predicted frequency (XGBoost | GLM): predicted / observed claims")
    for x_row, g_row in zip(metrics["xgboost"]["calibration"], metrics["glm"]["calibration"], strict=False):
        lines.append(
            f"  decile {x_row['decile']:>2}: {x_row['predicted_claims']:>9.1f} / {x_row['observed_claims']:<6}"
            f"| {g_row['predicted_claims']:>9.1f} / {g_row['observed_claims']}"
        )
    if size_tradeoff:
        lines.append("")
        lines.append("model size vs accuracy and exact-SHAP cost (test part; pred_contribs on one thread):")
        for row in size_tradeoff:
            lines.append(
                f"  {row['model']:<9} {row['trees']:>4} trees depth {row['max_depth']}: deviance "
                f"{row['test_mean_poisson_deviance']:.4f}, D² {row['test_d2']:.4f}, normalised Gini "
                f"{row['test_normalised_gini']:.4f}, {row['pred_contribs_rows_per_s_1_thread']:,} rows/s"
            )
    split = metrics.get("split")
    if split:
        lines.append("")
        lines.append(
            "split by group: "
            + ", ".join(f"{p} {s['groups']} groups / {s['claims']:.0f} claims" for p, s in split.items())
        )
    return lines
