import datetime as dt

from apps.common.exceptions import ApplicationError
from apps.jobs.registry import JobContext, register


def _date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApplicationError(f"as_of must be a date YYYY-MM-DD, not {value!r}", code="invalid") from None


@register(
    "risk.train",
    title="Train a claim-frequency model (XGBoost beside a GLM); activation stays manual",
    params={"as_of": str, "window_days": int, "follow_days": int, "seed": int, "min_claims": int},
    schedule="0 4 * * 0",
    queue="scoring",
)
def train(
    ctx: JobContext,
    *,
    as_of: str = "",
    window_days: int = 90,
    follow_days: int = 365,
    seed: int = 0,
    min_claims: int = 0,
) -> dict:
    """min_claims 0: the RISK_MIN_TRAINING_CLAIMS setting."""
    from apps.risk.services import risk_model_train

    ctx.set_total(1, note="building the driver-level data set and training")
    model = risk_model_train(
        as_of=_date(as_of),
        window_days=window_days,
        follow_days=follow_days,
        seed=seed,
        min_claims=min_claims or None,
    )
    ctx.advance(1)
    xgb, glm = model.metrics["xgboost"], model.metrics["glm"]
    return {
        "version": model.version,
        "family": model.model_card.get("family", "xgboost"),
        "active": model.is_active,
        "drivers": model.model_card["data"]["drivers"],
        "xgboost_test_deviance": xgb["mean_poisson_deviance"],
        "glm_test_deviance": glm["mean_poisson_deviance"],
        "xgboost_normalised_gini": xgb["normalised_gini"],
        "glm_normalised_gini": glm["normalised_gini"],
        "trees": model.model_card["params"]["trees"],
        "gate_comparisons": {
            name: {"difference": row["difference"], "ci95": row["ci95"]}
            for name, row in model.model_card["gate"]["comparisons"].items()
        },
    }


@register(
    "risk.score_drivers",
    title="Score every driver with the active model (chunks of 1,000, SHAP reasons)",
    params={"as_of": str, "driver_ids": list, "explain": bool, "chunk_size": int},
    schedule="0 3 * * *",
    queue="scoring",
)
def score_drivers(
    ctx: JobContext, *, as_of: str = "", driver_ids: list | None = None, explain: bool = True, chunk_size: int = 1000
) -> dict:
    from apps.risk.services import drivers_score

    ids = [int(i) for i in driver_ids] if driver_ids else None
    return drivers_score(as_of=_date(as_of), driver_ids=ids, explain=explain, chunk_size=chunk_size, ctx=ctx)


@register(
    "risk.drift",
    title="Drift of the active model's inputs and score (PSI against its training data; anomaly events)",
    params={"as_of": str},
    schedule="30 3 * * *",
)
def drift(ctx: JobContext, *, as_of: str = "") -> dict:
    from apps.risk.services.drift import risk_drift_check

    ctx.set_total(1, note="population stability index per feature and of the score")
    result = risk_drift_check(as_of=_date(as_of))
    ctx.advance(1)
    return result
