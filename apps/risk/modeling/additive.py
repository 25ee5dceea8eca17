"""The standard GLM as a deployable model: its fitted pipeline written out as plain JSON (never
pickle) and evaluated by numpy alone.

The standard GLM is additive on the log scale: log frequency = intercept + sum over features of
g_f(x_f), each g_f a cubic B-spline (of x or log1p(x), continued linearly past the boundary knots
as scikit-learn's `extrapolation="linear"` does), a one-hot table, and, for a feature that may be
missing, a coefficient for "missing" (the value then taken as the training median). The artifact
keeps, per feature, the knots and the spline's coefficients or the table, and a reference value:
the median driver's value of the feature.

Contributions are g_f(x_f) - g_f(reference), and the base value is the intercept plus the sum of
the g_f(reference), so base + sum(contributions) = the log frequency, as with XGBoost's TreeSHAP.
For an additive model this is the exact SHAP value against the median driver: exp(c) - 1 is what
the feature changes in expected claims against a driver at the median of it. The median (not the
mean) is the reference so that a reason reads the right way round: for a feature whose term only
rises, a driver above most drivers always gets a positive effect, one below most a negative one."""

import json
from pathlib import Path

import numpy as np

FAMILY = "glm-spline-poisson"
FORMAT = 1


def _spline_value(term: dict, x: np.ndarray) -> np.ndarray:
    from scipy.interpolate import BSpline

    if term.get("log"):
        x = np.log1p(x)
    spline = BSpline(np.asarray(term["knots"]), np.asarray(term["coef"]), int(term["degree"]), extrapolate=False)
    lo, hi = term["bounds"]
    inside = np.clip(x, lo, hi)
    out = spline(inside)
    below, above = x < lo, x > hi
    if below.any():
        out[below] = spline(lo) + (x[below] - lo) * spline(lo, nu=1)
    if above.any():
        out[above] = spline(hi) + (x[above] - hi) * spline(hi, nu=1)
    return out


def term_values(term: dict, x: np.ndarray) -> np.ndarray:
    """g_f(x) for one feature's column (NaN = missing)."""
    x = np.asarray(x, dtype=float)
    missing = np.isnan(x)
    filled = np.where(missing, term.get("fill", 0.0) if term.get("fill") is not None else 0.0, x)
    if term["encoding"] == "one-hot":
        categories = np.asarray(term["categories"], dtype=float)
        coef = np.asarray(term["coef"], dtype=float)
        index = np.searchsorted(categories, filled)
        index = np.clip(index, 0, len(categories) - 1)
        known = categories[index] == filled
        out = np.where(known, coef[index], 0.0)  # an unseen value adds nothing (handle_unknown="ignore")
    else:
        out = _spline_value(term, filled)
    return out + missing * float(term.get("missing_coef", 0.0))


def glm_terms(artifact: dict, values: np.ndarray) -> np.ndarray:
    """(rows, features) matrix of g_f(x_f), features in the artifact's order."""
    values = np.asarray(values, dtype=float)
    return np.column_stack([term_values(t, values[:, j]) for j, t in enumerate(artifact["terms"])])


def glm_margin(artifact: dict, values: np.ndarray) -> np.ndarray:
    """Log claim frequency per year of each row of features."""
    return float(artifact["intercept"]) + glm_terms(artifact, values).sum(axis=1)


def glm_contributions(artifact: dict, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contributions, base values): g_f(x_f) - g_f(reference), and intercept + the g_f(reference)."""
    at_reference = np.array([t["reference_term"] for t in artifact["terms"]], dtype=float)
    contributions = glm_terms(artifact, values) - at_reference
    base = float(artifact["intercept"]) + float(at_reference.sum())
    return contributions, np.full(len(contributions), base)


def glm_export(standard, dataset, rows: np.ndarray) -> dict:
    """The JSON artifact of a fitted `glm.StandardGlm`; `rows` give each feature's reference
    value (their median)."""
    if dataset.categorical:
        raise ValueError("the GLM artifact holds numeric features only")
    transformer, regressor = standard.pipeline[0], standard.pipeline[-1]
    coef = np.asarray(regressor.coef_, dtype=float)
    slices = transformer.output_indices_
    terms = {}
    if "onehot" in slices:
        encoder = transformer.named_transformers_["onehot"]
        at = slices["onehot"].start
        for name, categories in zip(encoder.feature_names_in_, encoder.categories_, strict=True):
            terms[name] = {"encoding": "one-hot", "categories": [float(c) for c in categories],
                           "coef": coef[at : at + len(categories)].tolist()}  # fmt: skip
            at += len(categories)
    for key, logged in (("log_spline", True), ("spline", False)):
        if key not in slices:
            continue
        spline = transformer.named_transformers_[key]
        if logged:
            spline = spline[-1]
        at = slices[key].start
        for name, basis in zip(spline.feature_names_in_, spline.bsplines_, strict=True):
            n = basis.c.shape[1]
            degree = int(basis.k)
            knots = np.asarray(basis.t, dtype=float)
            terms[name] = {
                "encoding": "log spline" if logged else "spline",
                "log": logged,
                "degree": degree,
                "knots": knots.tolist(),
                "bounds": [float(knots[degree]), float(knots[-degree - 1])],
                "coef": coef[at : at + n].tolist(),
            }
            at += n
    if "missing" in slices:
        at = slices["missing"].start
        for j, column in enumerate(transformer.named_transformers_["missing"].feature_names_in_):
            terms[column.removesuffix(MISSING_SUFFIX)]["missing_coef"] = float(coef[at + j])
    values = dataset.frame.loc[rows, dataset.features].to_numpy(dtype=float)
    ordered = []
    for j, name in enumerate(dataset.features):
        term = {"feature": name, **terms[name], "fill": standard.fill.get(name)}
        column = values[:, j][~np.isnan(values[:, j])]
        term["reference_value"] = float(np.median(column)) if len(column) else float(term["fill"] or 0.0)
        term["reference_term"] = float(term_values(term, np.array([term["reference_value"]]))[0])
        ordered.append(term)
    return {"family": FAMILY, "format": FORMAT, "intercept": float(regressor.intercept_), "terms": ordered,
            "features": list(dataset.features), "ridge": standard.ridge}  # fmt: skip


MISSING_SUFFIX = "__missing"


def contributions_summary(values: np.ndarray, contributions: np.ndarray, features: list[str]) -> list[dict]:
    """The SHAP summary's rows (mean |contribution|, share, direction) from given contributions."""
    total = float(np.abs(contributions).mean(axis=0).sum()) or 1.0
    rows = []
    for j, name in enumerate(features):
        column, x = contributions[:, j], np.nan_to_num(np.asarray(values[:, j], dtype=float))
        direction = float(np.corrcoef(x, column)[0, 1]) if np.std(x) > 0 and column.std() > 0 else None
        mean_abs = float(np.abs(column).mean())
        rows.append({"feature": name, "mean_abs_shap": round(mean_abs, 6), "share": round(mean_abs / total, 4),
                     "rate_ratio_of_mean_abs": round(float(np.exp(mean_abs)), 4),
                     "value_shap_correlation": None if direction is None else round(direction, 3)})  # fmt: skip
    return sorted(rows, key=lambda r: -r["mean_abs_shap"])


def glm_save(artifact: dict, path: Path, *, training_data_hash: str) -> None:
    if path.suffix != ".json":
        raise ValueError("risk models are saved as JSON (.json)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**artifact, "training_data_hash": training_data_hash}))


def glm_load(path: Path) -> dict:
    if Path(path).suffix != ".json":
        raise ValueError("risk models are loaded from JSON (.json) only")
    artifact = json.loads(Path(path).read_text())
    if artifact.get("family") != FAMILY or artifact.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FAMILY} artifact of format {FORMAT}")
    return artifact
