"""Which features a model's explanations may name: a feature is a reason only where the data
support its effect (the rule: `apps.risk.reasons`).

"Taking its term out" needs no refit: a model's log frequency is base + sum of the features'
contributions (the GLM's terms against the median driver, XGBoost's TreeSHAP), so without a feature
it is the margin minus that feature's contribution, rebalanced (one factor) to the model's own
total on the training part, and compared on the held-out drivers (validation and test, none of
whom it was fitted on). A term that only follows noise of the training part (a spline's wiggle on a
feature with no effect) does not predict held-out claims, so its removal costs nothing there.
"""

import numpy as np

from apps.risk.modeling.metrics import poisson_unit_deviances
from apps.risk.reasons import SUPPORT_Z


def term_support(
    *, contributions: np.ndarray, margin: np.ndarray, counts, exposure, parts: np.ndarray, features: list[str],
    groups: dict[str, list[str]] | None = None,
) -> dict[str, dict]:  # fmt: skip
    """Per feature: the held-out deviance lost without its term (per exposure-year), its standard
    error (paired by row: one driver a row), z and whether it is supported: by itself, or with the
    other features of its group (`groups`: features measuring one habit, removed together), whose
    figures it then carries as `group`. `margin` is the log claim frequency per year of every row,
    `contributions` its decomposition (rows, features)."""
    y, e = np.asarray(counts, dtype=float), np.asarray(exposure, dtype=float)
    train, held_out = parts == "train", parts != "train"
    full = np.exp(margin) * e
    full_dev = poisson_unit_deviances(y[held_out], full[held_out])
    total = float(e[held_out].sum())

    def removed(columns: list[int]) -> dict:
        without = np.exp(margin - contributions[:, columns].sum(axis=1)) * e
        without *= full[train].sum() / without[train].sum()
        diff = poisson_unit_deviances(y[held_out], without[held_out]) - full_dev
        gain = float(diff.sum()) / total
        se = float(np.std(diff, ddof=1) * np.sqrt(len(diff))) / total if len(diff) > 1 else 0.0
        z = gain / se if se > 0 else 0.0
        return {"deviance_gain": round(gain, 6), "se": round(se, 6), "z": round(z, 3), "supported": z > SUPPORT_Z}

    out = {name: removed([j]) for j, name in enumerate(features)}
    for group, members in (groups or {}).items():
        present = [name for name in members if name in features]
        if len(present) < 2:
            continue
        together = removed([features.index(name) for name in present])
        for name in present:
            out[name]["group"] = {"name": group, **together}
            out[name]["supported"] = out[name]["supported"] or together["supported"]
    return out


def supported_features(support: dict[str, dict]) -> list[str]:
    return [name for name, row in support.items() if row["supported"]]


def deployed_decomposition(result, dataset) -> tuple[np.ndarray, np.ndarray]:
    """(contributions, margin) of the family `result` deploys, for every row of `dataset`: the
    GLM's terms against the median driver or XGBoost's TreeSHAP, and the deployed log frequency
    per year (calibration correction included)."""
    import xgboost as xgb

    from apps.risk.modeling.additive import glm_contributions, glm_export
    from apps.risk.modeling.boosting import booster_base
    from apps.risk.modeling.protocol import deployed_counts

    everyone = np.ones(len(dataset.frame), dtype=bool)
    margin = np.log(deployed_counts(result, dataset, everyone) / dataset.exposure)
    if result.family == "glm":
        artifact = glm_export(result.glm_standard, dataset, everyone)
        contributions, _ = glm_contributions(artifact, dataset.frame[dataset.features].to_numpy(dtype=float))
        return contributions, margin
    X = dataset.xgb_matrix(everyone)
    matrix = xgb.DMatrix(X, base_margin=np.full(len(X), booster_base(result.booster)), enable_categorical=True)
    return np.asarray(result.booster.predict(matrix, pred_contribs=True), dtype=float)[:, :-1], margin
