"""XGBoost Poisson on claim counts: the starting margin, the size chosen on validation, SHAP
summaries and the artifact format."""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from apps.risk.modeling.data import Dataset
from apps.risk.modeling.metrics import poisson_deviance_total

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
    # One thread: on a shared 2-core machine two threads meeting at a barrier every tree level were
    # measured 10x slower than one (7 s against 0.6 s for 100 trees on 12,000 rows at load 11).
    "nthread": 1,
}
# High enough that early stopping, not the cap, decides the size (the fit reports whether the cap
# was reached).
XGB_MAX_TREES = 2000
EARLY_STOPPING_ROUNDS = 30
# Learning rate and depth are chosen on the validation part among these. Depth stays small: exact
# SHAP (pred_contribs) costs trees x leaves x depth per driver, and every batch score explains.
SEARCH_GRID = tuple((depth, eta) for depth in (2, 3, 4) for eta in (0.05, 0.1))

# The booster attribute holding the log of the training part's claim frequency: the margin every
# tree is added to (together with log exposure). Scoring and SHAP take it as the base margin.
BASE_ATTRIBUTE = "base_log_frequency"


def base_log_frequency(counts: np.ndarray, exposure: np.ndarray) -> float:
    """log(observed claims / exposure) of the rows trained on: the exposure-weighted observed mean
    frequency, so that boosting starts from a model balanced on its training data."""
    claims = float(np.sum(counts))
    if claims <= 0:
        raise ValueError("no claims in the training part: nothing to learn a frequency from")
    return float(np.log(claims / float(np.sum(exposure))))


def booster_base(booster: xgb.Booster) -> float:
    """The booster's starting log frequency (0 for models trained before it existed)."""
    value = booster.attr(BASE_ATTRIBUTE)
    return float(value) if value is not None else 0.0


def _matrix(dataset: Dataset, rows: np.ndarray, base: float, *, label: bool = True) -> xgb.DMatrix:
    return xgb.DMatrix(
        dataset.xgb_matrix(rows),
        label=dataset.counts[rows] if label else None,
        base_margin=np.log(dataset.exposure[rows]) + base,
        enable_categorical=bool(dataset.categorical),
    )


def xgb_fit(
    dataset: Dataset,
    parts: np.ndarray,
    *,
    monotone: dict[str, int] | None = None,
    max_depth: int = XGB_PARAMS["max_depth"],
    eta: float = XGB_PARAMS["eta"],
    max_trees: int = XGB_MAX_TREES,
    seed: int = 0,
) -> xgb.Booster:
    """Boosting from log(exposure) + log(observed training frequency), early-stopped on the
    validation part; only the trees early stopping chose are kept. The starting margin keeps the
    model close to balanced on its training part whatever the number of trees (partial Newton
    steps on subsamples drift it by about 1%); the final balance correction puts the kept trees'
    total back on the observed claims."""
    train, val = parts == "train", parts == "validation"
    base = base_log_frequency(dataset.counts[train], dataset.exposure[train])
    params = {**XGB_PARAMS, "max_depth": max_depth, "eta": eta, "seed": seed}
    if monotone:
        params["monotone_constraints"] = "(" + ",".join(str(monotone.get(f, 0)) for f in dataset.features) + ")"
    booster = xgb.train(
        params,
        _matrix(dataset, train, base),
        num_boost_round=max_trees,
        evals=[(_matrix(dataset, val, base), "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    best = booster.best_iteration
    booster = booster[: best + 1]
    fitted = booster.predict(_matrix(dataset, train, base, label=False))
    balance = float(np.log(dataset.counts[train].sum() / fitted.sum()))
    booster.set_attr(
        best_iteration=str(best),
        cap_reached=str(best + 1 >= max_trees),
        max_depth=str(max_depth),
        eta=str(eta),
        start_log_frequency=repr(base),
        balance_correction=repr(balance),
        **{BASE_ATTRIBUTE: repr(base + balance)},
    )
    return booster


def xgb_predict_counts(booster: xgb.Booster, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    return booster.predict(_matrix(dataset, rows, booster_base(booster), label=False))


def xgb_search(
    dataset: Dataset,
    parts: np.ndarray,
    *,
    monotone: dict[str, int] | None = None,
    seed: int = 0,
    grid: tuple[tuple[int, float], ...] = SEARCH_GRID,
) -> tuple[xgb.Booster, list[dict]]:
    """Fits every (depth, learning rate) of the grid and keeps the one with the lowest validation
    deviance. Returns it and the table of candidates."""
    val = parts == "validation"
    y, e = dataset.counts[val], dataset.exposure[val]
    best, table = None, []
    for depth, eta in grid:
        booster = xgb_fit(dataset, parts, monotone=monotone, max_depth=depth, eta=eta, seed=seed)
        deviance = poisson_deviance_total(y, xgb_predict_counts(booster, dataset, val)) / float(e.sum())
        table.append(
            {
                "max_depth": depth,
                "eta": eta,
                "trees": booster.num_boosted_rounds(),
                "cap_reached": booster.attr("cap_reached") == "True",
                "validation_mean_poisson_deviance": round(deviance, 6),
            }
        )
        if best is None or deviance < best[0]:
            best = (deviance, booster, len(table) - 1)
    table[best[2]]["chosen"] = True
    return best[1], table


def contribs_rate(booster: xgb.Booster, X: pd.DataFrame, *, rows: int = 2000) -> float:
    """Rows per second of exact SHAP (pred_contribs) with this booster on one thread."""
    sample = X.iloc[: min(rows, len(X))]
    matrix = xgb.DMatrix(sample, base_margin=np.full(len(sample), booster_base(booster)), enable_categorical=True)
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
