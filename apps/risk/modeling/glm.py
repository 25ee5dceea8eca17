"""The GLM baselines, both Poisson with the log-exposure offset and fitted on the training part:

- the standard one, scikit-learn's freMTPL2 example preprocessing made general: numeric features
  with few values one-hot, skewed positive ones logged, every other numeric one a cubic spline on
  quantile knots, categories one-hot. It is the baseline XGBoost must beat;
- the linear one (numeric features as they are), kept for its readable coefficients."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from apps.risk.modeling.additive import MISSING_SUFFIX
from apps.risk.modeling.data import Dataset
from apps.risk.modeling.monotone import monotone_refit

FEW_VALUES = 12  # a numeric feature with at most this many distinct values is one-hot encoded
SKEWED = 1.0  # sample skewness above which a positive feature is logged before its spline
SPLINE_KNOTS = 5
# The ridge penalty is chosen on the validation part, as XGBoost's size is: on a few hundred
# claims an unpenalised spline per feature over-fits (measured: test D² 0.0 against 0.03 with the
# penalty chosen), on hundreds of thousands the smallest wins (scikit-learn's example uses 1e-12).
# The stronger the penalty, the flatter every term: at the strongest a term is nearly constant.
RIDGE_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
# The one-standard-error rule (Breiman et al., Hastie et al.): of the penalties whose validation
# deviance is within this many standard errors of the best one's (the standard error of the paired
# difference, row by row), the strongest. The best penalty on a few hundred claims fits some noise:
# measured on the demo's simulated drivers, rush-hour and highway shares (no effect in the
# simulator) got terms of -47% to +67% and were among the three reasons of over half the drivers.
ONE_SE = 1.0


@dataclass
class StandardGlm:
    pipeline: object
    encoding: dict[str, str]  # feature -> how it enters
    ridge: float
    validation_deviance: dict[str, float]  # ridge -> mean Poisson deviance on the validation part
    # ridge -> standard error of its validation deviance minus the best ridge's (paired by row)
    validation_se: dict[str, float] = field(default_factory=dict)
    best_ridge: float | None = None  # the ridge of the lowest validation deviance
    # feature that may be missing -> the training median standing in for a missing value (which
    # also sets the feature's `<name>__missing` indicator)
    fill: dict[str, float] = field(default_factory=dict)
    constrained: dict[str, str] = field(default_factory=dict)  # feature -> "increasing" / "decreasing"

    def predict_counts(self, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
        return self.pipeline.predict(_frame(dataset, rows, self.fill)) * dataset.exposure[rows]


def _frame(dataset: Dataset, rows: np.ndarray, fill: dict[str, float]) -> pd.DataFrame:
    frame = dataset.frame.loc[rows, dataset.features].copy()
    for name in dataset.categorical:
        frame[name] = frame[name].astype(str)
    for name, value in fill.items():
        frame[name + MISSING_SUFFIX] = frame[name].isna().astype(float)
        frame[name] = frame[name].astype(float).fillna(value)
    return frame


def _fill_values(dataset: Dataset, rows: np.ndarray) -> dict[str, float]:
    fill = {}
    for name in dataset.missing_ok:
        if name in dataset.features and name not in dataset.categorical:
            values = dataset.frame.loc[rows, name].astype(float)
            fill[name] = float(values.median()) if values.notna().any() else 0.0
    return fill


def standard_encoding(dataset: Dataset, rows: np.ndarray) -> dict[str, str]:
    encoding = {}
    for name in dataset.features:
        if name in dataset.categorical:
            encoding[name] = "one-hot"
            continue
        values = dataset.frame.loc[rows, name].astype(float)
        if values.nunique() <= FEW_VALUES:
            encoding[name] = "one-hot"
        elif values.min() >= 0 and values.skew() > SKEWED:
            encoding[name] = "log spline"
        else:
            encoding[name] = "spline"
    return encoding


def glm_standard_fit(dataset: Dataset, parts: np.ndarray, *, monotone: dict[str, int] | None = None) -> StandardGlm:
    """The standard GLM with the ridge penalty of RIDGE_GRID chosen on validation by the
    one-standard-error rule (the strongest penalty within ONE_SE standard errors of the best); the
    features of `monotone` (as given to XGBoost) get monotone terms (`modeling.monotone`)."""
    from threadpoolctl import threadpool_limits

    from apps.risk.modeling.metrics import poisson_unit_deviances

    val = parts == "validation"
    y, e = dataset.counts[val], dataset.exposure[val]
    fill = _fill_values(dataset, parts == "train")
    fits, rows = {}, {}
    # One BLAS thread, as XGBoost gets one: these are small matrices, and on the shared 2-core
    # machine a threaded BLAS made the monotone fit 20-70x slower (72 s against 3.7 s measured).
    with threadpool_limits(limits=1):
        for ridge in RIDGE_GRID:
            pipeline, encoding, constrained = _standard_pipeline(dataset, parts, ridge, fill, monotone or {})
            rows[ridge] = poisson_unit_deviances(y, pipeline.predict(_frame(dataset, val, fill)) * e)
            fits[ridge] = (pipeline, encoding, constrained)
    total = float(e.sum())
    scores = {ridge: float(deviances.sum()) / total for ridge, deviances in rows.items()}
    best = min(RIDGE_GRID, key=lambda ridge: scores[ridge])
    errors = {ridge: float(np.std(rows[ridge] - rows[best], ddof=1) * np.sqrt(len(y))) / total if len(y) > 1 else 0.0
              for ridge in RIDGE_GRID}  # fmt: skip
    chosen = max(r for r in RIDGE_GRID if scores[r] - scores[best] <= ONE_SE * errors[r])
    pipeline, encoding, constrained = fits[chosen]
    return StandardGlm(pipeline=pipeline, encoding=encoding, ridge=chosen,
                       validation_deviance={str(r): round(v, 6) for r, v in scores.items()}, fill=fill,
                       constrained=constrained, validation_se={str(r): round(v, 6) for r, v in errors.items()},
                       best_ridge=best)  # fmt: skip


def _standard_pipeline(dataset: Dataset, parts: np.ndarray, ridge: float, fill: dict[str, float],
                       monotone: dict[str, int]):  # fmt: skip
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer

    train = parts == "train"
    encoding = standard_encoding(dataset, train)

    def spline():
        return SplineTransformer(n_knots=SPLINE_KNOTS, degree=3, knots="quantile", extrapolation="linear")

    transformers = []
    if onehot := [n for n, how in encoding.items() if how == "one-hot"]:
        transformers.append(("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), onehot))
    if logged := [n for n, how in encoding.items() if how == "log spline"]:
        transformers.append(("log_spline", make_pipeline(FunctionTransformer(np.log1p), spline()), logged))
    if plain := [n for n, how in encoding.items() if how == "spline"]:
        transformers.append(("spline", spline(), plain))
    if fill:
        transformers.append(("missing", "passthrough", [name + MISSING_SUFFIX for name in fill]))
    pipeline = make_pipeline(
        ColumnTransformer(transformers, remainder="drop"),
        PoissonRegressor(alpha=ridge, solver="newton-cholesky", max_iter=300),
    )
    e = dataset.exposure[train]
    frame = _frame(dataset, train, fill)
    pipeline.fit(frame, dataset.counts[train] / e, poissonregressor__sample_weight=e)
    constrained = monotone_refit(pipeline, frame, dataset.counts[train], e, ridge=ridge, monotone=monotone)
    return pipeline, encoding, constrained


def glm_fit(dataset: Dataset, parts: np.ndarray):
    """The linear GLM (statsmodels, for its coefficients and p-values)."""
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


def glm_coefficients(glm, columns: list[str]) -> list[dict]:
    return [
        {
            "term": name,
            "coefficient": round(float(coef), 6),
            "rate_ratio": round(float(np.exp(coef)), 4),
            "p_value": round(float(p), 6),
        }
        for name, coef, p in zip(columns, glm.params, glm.pvalues, strict=True)
    ]
