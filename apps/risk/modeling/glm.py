"""The GLM baselines, both Poisson with the log-exposure offset and fitted on the training part:

- the standard one, scikit-learn's freMTPL2 example preprocessing made general: numeric features
  with few values one-hot, skewed positive ones logged, every other numeric one a cubic spline on
  quantile knots, categories one-hot. It is the baseline XGBoost must beat;
- the linear one (numeric features as they are), kept for its readable coefficients."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.risk.modeling.data import Dataset

FEW_VALUES = 12  # a numeric feature with at most this many distinct values is one-hot encoded
SKEWED = 1.0  # sample skewness above which a positive feature is logged before its spline
SPLINE_KNOTS = 5
# The ridge penalty is chosen on the validation part, as XGBoost's size is: on a few hundred
# claims an unpenalised spline per feature over-fits (measured: test D² 0.0 against 0.03 with the
# penalty chosen), on hundreds of thousands the smallest wins (scikit-learn's example uses 1e-12).
RIDGE_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@dataclass
class StandardGlm:
    pipeline: object
    encoding: dict[str, str]  # feature -> how it enters
    ridge: float
    validation_deviance: dict[str, float]  # ridge -> mean Poisson deviance on the validation part

    def predict_counts(self, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
        return self.pipeline.predict(_frame(dataset, rows)) * dataset.exposure[rows]


def _frame(dataset: Dataset, rows: np.ndarray) -> pd.DataFrame:
    frame = dataset.frame.loc[rows, dataset.features].copy()
    for name in dataset.categorical:
        frame[name] = frame[name].astype(str)
    return frame


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


def glm_standard_fit(dataset: Dataset, parts: np.ndarray) -> StandardGlm:
    """The standard GLM with the ridge penalty of RIDGE_GRID that does best on validation."""
    from apps.risk.modeling.metrics import poisson_deviance_total

    val = parts == "validation"
    y, e = dataset.counts[val], dataset.exposure[val]
    best, scores = None, {}
    for ridge in RIDGE_GRID:
        pipeline, encoding = _standard_pipeline(dataset, parts, ridge)
        deviance = poisson_deviance_total(y, pipeline.predict(_frame(dataset, val)) * e) / float(e.sum())
        scores[str(ridge)] = round(deviance, 6)
        if best is None or deviance < best[0]:
            best = (deviance, pipeline, encoding, ridge)
    return StandardGlm(pipeline=best[1], encoding=best[2], ridge=best[3], validation_deviance=scores)


def _standard_pipeline(dataset: Dataset, parts: np.ndarray, ridge: float):
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
    pipeline = make_pipeline(
        ColumnTransformer(transformers, remainder="drop"),
        PoissonRegressor(alpha=ridge, solver="newton-cholesky", max_iter=300),
    )
    e = dataset.exposure[train]
    pipeline.fit(_frame(dataset, train), dataset.counts[train] / e, poissonregressor__sample_weight=e)
    return pipeline, encoding


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
