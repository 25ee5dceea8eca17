"""Risk writes: training a claim-frequency model and writing its model card."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.risk.features import FEATURE_NAMES, FEATURES, GROUPS, feature_names_check
from apps.risk.models import RiskModel
from apps.risk.reasons import RULE

MIN_FOLLOW_DAYS = 30
MIN_TRAINING_DRIVERS = 30
# Below a few hundred claims a frequency model's test deviance moves more with the split than
# between models (freMTPLmini: ±0.05 on 200 test claims), so nothing can be judged, let alone priced.
DEFAULT_MIN_TRAINING_CLAIMS = 200


def min_training_claims() -> int:
    """The fewest claims the training part must hold (setting RISK_MIN_TRAINING_CLAIMS)."""
    return int(getattr(settings, "RISK_MIN_TRAINING_CLAIMS", DEFAULT_MIN_TRAINING_CLAIMS))


def _training_as_of(*, window_days: int, today: dt.date) -> dt.date:
    from apps.risk import selectors

    usable = [d for d in selectors.feature_dates(window_days=window_days) if d <= today - dt.timedelta(MIN_FOLLOW_DAYS)]
    if not usable:
        raise ApplicationError(
            f"no {window_days}-day driver features at least {MIN_FOLLOW_DAYS} days old: claims in the following"
            " period cannot be observed yet",
            code="no_training_data",
        )
    return usable[-1]


def training_procedure() -> dict:
    """What, besides the data, decides a trained model: part of its version."""
    from apps.risk import modeling

    return {
        # 2: observed-frequency base margin, size chosen on validation, standard GLM, gate;
        # 3: the family (XGBoost or the monotone standard GLM) chosen by the gate's rule
        "procedure": 3,
        "family_rule": modeling.FAMILY_RULE,
        "params": modeling.XGB_PARAMS,
        "max_trees": modeling.XGB_MAX_TREES,
        "early_stopping_rounds": modeling.EARLY_STOPPING_ROUNDS,
        "grid": modeling.SEARCH_GRID,
        "test_share": modeling.DEFAULT_TEST_SHARE,
        "features": FEATURE_NAMES,
    }


def risk_model_train(
    *,
    as_of: dt.date | None = None,
    window_days: int = 90,
    follow_days: int = 365,
    seed: int = 0,
    today: dt.date | None = None,
    min_claims: int | None = None,
    family: str | None = None,
) -> RiskModel:
    """Trains a claim-frequency model on drivers' features as of `as_of` and their claims in the
    following `follow_days` (cut at `today`), beside the standard GLM, the linear GLM and the
    constant model, and stores it (inactive) with its model card. Refused when the training part
    holds fewer than `min_claims` claims (default: the RISK_MIN_TRAINING_CLAIMS setting, 200).
    Training the same data again returns the model already stored. `family` ("xgboost" or "glm")
    deploys that family whatever the rule says (benchmarks of one family's scoring); the gate still
    judges it against its comparators."""
    from apps.risk import selectors

    today = today or timezone.localdate()
    min_claims = min_training_claims() if min_claims is None else int(min_claims)
    if window_days < 1 or follow_days < 1:
        raise ApplicationError("window_days and follow_days must be positive", code="invalid")
    as_of = as_of or _training_as_of(window_days=window_days, today=today)
    if (today - as_of).days < MIN_FOLLOW_DAYS:
        raise ApplicationError(
            f"as_of {as_of} leaves less than {MIN_FOLLOW_DAYS} days of following period before {today}",
            code="no_training_data",
        )
    frame = selectors.training_frame(
        as_of=as_of, window_days=window_days, follow_days=follow_days, claims_known_until=today
    )
    return risk_model_train_frame(frame=frame, as_of=as_of, window_days=window_days, follow_days=follow_days,
                                  follow_end=min(as_of + dt.timedelta(follow_days), today), seed=seed,
                                  min_claims=min_claims, family=family)  # fmt: skip


def risk_model_train_frame(
    *,
    frame,
    as_of: dt.date,
    window_days: int,
    follow_days: int,
    follow_end: dt.date,
    seed: int = 0,
    min_claims: int | None = None,
    family: str | None = None,
    source: str | None = None,
) -> RiskModel:
    """risk_model_train on a given training frame (one row per driver: `driver_id`, the features,
    `claims`, `exposure` in years). `source` says where drivers not in the database come from (a
    simulated portfolio): its card then has no fairness report (there are no customers to read
    gender or age from) and the activation gate cannot score the active model on its drivers."""
    from apps.risk import modeling

    min_claims = min_training_claims() if min_claims is None else int(min_claims)
    feature_names_check(FEATURE_NAMES)
    if len(frame) < MIN_TRAINING_DRIVERS:
        raise ApplicationError(
            f"{len(frame)} drivers with {window_days}-day features as of {as_of}: at least {MIN_TRAINING_DRIVERS}"
            " are needed",
            code="no_training_data",
        )
    if frame["claims"].sum() == 0:
        raise ApplicationError(
            f"no claims in the {follow_days} days after {as_of}: there is no frequency to learn",
            code="no_training_data",
        )
    settings_used = {"as_of": str(as_of), "window_days": window_days, "follow_days": follow_days, "seed": seed}
    hashed = frame.assign(**{k: str(v) for k, v in settings_used.items()})
    digest = modeling.data_hash(hashed if source is None else hashed.assign(source=source))
    # The version names the data and the procedure: the same data trained again by the same code
    # returns the stored model; a changed procedure (model size, parameters) makes a new one.
    if family is not None and family not in modeling.FAMILIES:
        raise ApplicationError(f"family must be one of {', '.join(modeling.FAMILIES)}", code="invalid")
    procedure = json.dumps({**training_procedure(), "family": family or "by the rule"}, sort_keys=True)
    version = f"{as_of:%Y%m%d}-{hashlib.sha256((digest + procedure).encode()).hexdigest()[:10]}"
    existing = RiskModel.objects.filter(version=version).first()
    if existing:
        return existing

    dataset = modeling.Dataset(
        frame=frame,
        features=list(FEATURE_NAMES),
        count_col="claims",
        exposure_col="exposure",
        group_col="driver_id",
        missing_ok=[f.name for f in FEATURES if f.may_be_missing],
    )
    monotone = {f.name: f.monotone for f in FEATURES if f.monotone}
    try:
        result = modeling.compare(dataset, monotone=monotone, seed=seed, min_claims=min_claims)
    except modeling.NotEnoughClaims as exc:
        raise ApplicationError(
            f"{exc} (as of {as_of}, {len(frame)} drivers, {int(frame['claims'].sum())} claims in all; the minimum"
            " is the RISK_MIN_TRAINING_CLAIMS setting)",
            code="not_enough_claims",
        ) from exc
    except ValueError as exc:
        raise ApplicationError(str(exc), code="no_training_data") from exc
    if family is not None:
        result.family = family
    relative_path = f"risk/{version}.json"
    artifact = Path(settings.ARTIFACT_ROOT) / relative_path
    if result.family == "xgboost":
        modeling.booster_save(result.booster, artifact, feature_names=list(FEATURE_NAMES), training_data_hash=digest)
    else:
        exported = modeling.glm_export(result.glm_standard, dataset, np.ones(len(frame), dtype=bool))
        modeling.glm_save(exported, artifact, training_data_hash=digest)
    card = _model_card(
        result=result, dataset=dataset, frame=frame, settings_used=settings_used, monotone=monotone,
        follow_period=[str(as_of + dt.timedelta(days=1)), str(follow_end)], min_claims=min_claims, source=source,
    )  # fmt: skip
    return _risk_model_create(
        version=version,
        relative_path=relative_path,
        digest=digest,
        as_of=as_of,
        window_days=window_days,
        metrics=result.metrics,
        card=card,
        algorithm=ALGORITHMS[result.family],
    )


# RiskModel.algorithm of each family: how scoring reads the artifact.
ALGORITHMS = {"xgboost": "xgboost-poisson", "glm": "glm-spline-poisson"}


def _explained(result, dataset, rows) -> list[dict]:
    """The chosen family's SHAP summary on these rows: shap.TreeExplainer for XGBoost, the exact
    additive contributions for the GLM."""
    from apps.risk import modeling

    if result.family == "xgboost":
        return modeling.shap_summary(result.booster, dataset.xgb_matrix(rows))
    exported = modeling.glm_export(result.glm_standard, dataset, np.ones(len(dataset.frame), dtype=bool))
    values = dataset.frame.loc[rows, dataset.features].to_numpy(dtype=float)
    contributions, _ = modeling.glm_contributions(exported, values)
    return modeling.contributions_summary(values, contributions, list(dataset.features))


SOURCE_DATABASE = "the drivers' features and claims in the database"


def _model_card(*, result, dataset, frame, settings_used, monotone, follow_period, min_claims, source) -> dict:
    from apps.risk import modeling, selectors
    from apps.risk.modeling import support

    test = result.parts == "test"
    everyone = np.ones(len(frame), dtype=bool)
    predicted = modeling.deployed_counts(result, dataset, everyone) / dataset.exposure
    contributions, margin = support.deployed_decomposition(result, dataset)
    reason_support = support.term_support(
        contributions=contributions, margin=margin, counts=dataset.counts, exposure=dataset.exposure,
        parts=result.parts, features=list(dataset.features), groups=GROUPS,
    )  # fmt: skip
    glm_family = result.family == "glm"
    quantile_points = np.linspace(0, 1, 1001)
    booster = result.booster
    return {
        "family": result.family,
        "family_choice": {
            "rule": modeling.FAMILY_RULE,
            "chosen": result.family,
            "xgboost_vs_glm": result.family_gates["xgboost"]["glm"],
            "gates": result.family_gates,
        },
        "data": {
            **settings_used,
            "follow_period": follow_period,
            "drivers": len(frame),
            "claims": int(frame["claims"].sum()),
            "exposure_years": float(dataset.exposure.sum()),
            "min_training_claims": min_claims,
            "source": source or SOURCE_DATABASE,
        },
        "params": {
            **modeling.XGB_PARAMS,
            "max_depth": int(booster.attr("max_depth")),
            "eta": float(booster.attr("eta")),
            "max_trees": modeling.XGB_MAX_TREES,
            "trees": booster.num_boosted_rounds(),
            "cap_reached": booster.attr("cap_reached") == "True",
            "start_log_frequency": float(booster.attr("start_log_frequency")),
            "balance_correction": float(booster.attr("balance_correction")),
            "base_log_frequency": modeling.booster_base(booster),
        },
        "monotone_constraints": monotone,
        "size_tradeoff": result.size_tradeoff,
        "feature_importances": result.importances,
        "shap_summary_test": _explained(result, dataset, test),
        # What explanations may name (modeling.support): the features whose term the held-out
        # drivers support; a reason also needs a material effect on the driver.
        "reason_rule": RULE,
        "reason_support": reason_support,
        "reason_features": support.supported_features(reason_support),
        "glm_coefficients": result.glm_coefficients,
        "glm_standard": {
            "encoding": result.glm_standard.encoding,
            "ridge": result.glm_standard.ridge,
            "ridge_rule": "the strongest penalty within one standard error of the best on validation",
            "best_ridge": result.glm_standard.best_ridge,
            "validation_deviance_by_ridge": result.glm_standard.validation_deviance,
            "validation_se_by_ridge": result.glm_standard.validation_se,
            "monotone_terms": result.glm_standard.constrained,
        },
        "calibration": result.metrics["glm_calibration" if glm_family else "calibration"],
        "calibration_correction": result.glm_correction if glm_family else result.correction,
        # Observed claims over exposure of the drivers trained on: what "average risk" means to
        # drivers and partners (relative risk = a driver's expected frequency / this).
        "portfolio_mean_frequency": float(dataset.counts.sum() / dataset.exposure.sum()),
        "portfolio_mean_source": "observed claims / exposure of the training data",
        "predicted_mean_frequency": float((predicted * dataset.exposure).sum() / dataset.exposure.sum()),
        "gate": {"comparisons": result.family_gates[result.family], "test_drivers": int(test.sum())},
        "feature_quantiles": {
            name: np.round(np.nanquantile(frame[name].to_numpy(), quantile_points), 6).tolist()
            for name in FEATURE_NAMES
        },
        "score_quantiles": np.round(np.quantile(predicted, np.linspace(0, 1, 101)), 6).tolist(),
        "fairness": selectors.fairness_report(
            driver_ids=frame["driver_id"],
            expected_frequency=predicted,
            as_of=dt.date.fromisoformat(settings_used["as_of"]),
        )
        if source is None
        else {"groups": {}, "note": f"not available: trained on {source}, not on customers"},
    }


@transaction.atomic
def _risk_model_create(*, version, relative_path, digest, as_of, window_days, metrics, card, algorithm) -> RiskModel:
    model = RiskModel.objects.create(
        version=version,
        algorithm=algorithm,
        artifact_path=relative_path,
        feature_names=list(FEATURE_NAMES),
        training_data_hash=digest,
        as_of=as_of,
        window_days=window_days,
        metrics=json.loads(json.dumps(metrics, default=float)),
        model_card=json.loads(json.dumps(card, default=float)),
    )
    audit_record(action="risk.model_trained", entity=model, data={"version": version, "as_of": as_of})
    return model
