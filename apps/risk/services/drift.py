"""Risk writes: the nightly drift check of the active model. The population stability index of
each feature and of the score, today's drivers against the drivers the model was trained on
(kept in its card as quantiles); above PSI_ALERT an `anomaly` event names the feature. Events of
this check that are not found again are resolved by `events_sync`."""

import datetime as dt

import numpy as np

from apps.common.exceptions import ApplicationError

PSI_ALERT = 0.25  # the usual reading: < 0.1 stable, 0.1-0.25 moving, > 0.25 shifted
BINS = 10
SOURCE = "risk.drift"
SCORE = "score (expected claims per year)"


def psi(expected_quantiles, actual: np.ndarray, *, bins: int = BINS) -> float:
    """PSI of `actual` against the distribution whose quantiles (evenly spaced probabilities, 0 to
    1) are `expected_quantiles`: the training deciles are the bins, a bin's expected share is the
    share of quantile points in it (ties merge bins), both shares floored at 1e-4."""
    q = np.asarray(expected_quantiles, dtype=float)
    actual = np.asarray(actual, dtype=float)
    if not len(actual):
        raise ValueError("no current values to compare")
    edges = np.unique(np.quantile(q, np.linspace(0, 1, bins + 1))[1:-1])
    expected = np.bincount(np.searchsorted(edges, q, side="right"), minlength=len(edges) + 1) / len(q)
    current = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    expected, current = np.maximum(expected, 1e-4), np.maximum(current, 1e-4)
    return float(np.sum((current - expected) * np.log(current / expected)))


def risk_drift_check(*, as_of: dt.date | None = None) -> dict:
    """PSI of every feature of the active model's drivers as of `as_of` (default: the latest
    feature day) and of their latest scores by the model, against its training data; raises an
    `anomaly` event per feature above PSI_ALERT."""
    from apps.alerts.services import events_sync
    from apps.risk import selectors

    model = selectors.risk_model_active()
    if model is None:
        raise ApplicationError("no active risk model: nothing to check for drift", code="no_active_model")
    card = model.model_card or {}
    quantiles = card.get("feature_quantiles") or {}
    if not quantiles:
        raise ApplicationError(f"model {model.version} has no training quantiles to compare", code="invalid_model")
    if as_of is None:
        dates = selectors.feature_dates(window_days=model.window_days)
        if not dates:
            raise ApplicationError(f"no {model.window_days}-day driver features to check", code="no_features")
        as_of = dates[-1]
    values = selectors.features_all(model=model, as_of=as_of)
    if not len(values):
        raise ApplicationError(f"no {model.window_days}-day driver features as of {as_of}", code="no_features")
    rows = [
        {"feature": name, "psi": round(psi(quantiles[name], values[:, j]), 4)}
        for j, name in enumerate(model.feature_names)
        if name in quantiles
    ]
    scores = selectors.score_values(model=model)
    if card.get("score_quantiles") and len(scores):
        rows.append({"feature": SCORE, "psi": round(psi(card["score_quantiles"], scores), 4)})
    findings = [
        {
            "severity": "high" if row["psi"] > 2 * PSI_ALERT else "medium",
            "entity_type": "risk.riskmodel",
            "entity_id": f"{model.version}:{row['feature']}"[:64],
            "title": f"Risk model input drift: {row['feature']} (PSI {row['psi']:.2f})",
            "description": f"The drivers' {row['feature']} as of {as_of} no longer look like the data model "
            f"{model.version} was trained on (population stability index {row['psi']:.2f} > {PSI_ALERT}): "
            "its scores may be off; retrain or review.",
            "metadata": {"model": model.version, "feature": row["feature"], "psi": row["psi"], "as_of": str(as_of)},
            "score": row["psi"],
        }
        for row in rows
        if row["psi"] > PSI_ALERT
    ]
    events = events_sync(event_type="anomaly", findings=findings, source=SOURCE)
    return {
        "model": model.version,
        "as_of": str(as_of),
        "drivers": len(values),
        "scores": len(scores),
        "psi": {row["feature"]: row["psi"] for row in rows},
        "drifted": [row["feature"] for row in rows if row["psi"] > PSI_ALERT],
        "events": events,
    }
