"""The whole procedure shared by `train_risk_model` and `risk_benchmark`: split by group, XGBoost
(size chosen on validation, calibration corrected when off) beside the standard GLM, the linear
GLM and the constant model, all scored on the same test part; repeated over seeds with bootstrap
intervals for the benchmark."""

from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from apps.risk.modeling.boosting import contribs_rate, feature_importances, xgb_predict_counts, xgb_search
from apps.risk.modeling.calibration import calibration_check, corrected, correction_fit
from apps.risk.modeling.data import (
    DEFAULT_TEST_SHARE,
    PARTS,
    Dataset,
    fractions_for,
    split_by_group,
    split_given_test,
)
from apps.risk.modeling.glm import StandardGlm, glm_coefficients, glm_fit, glm_predict_counts, glm_standard_fit
from apps.risk.modeling.metrics import bootstrap_headline, paired_deviance_difference, poisson_metrics

# The families a trained model may deploy, and the comparators each must beat on test deviance (the
# active model is added at activation). XGBoost is deployed only when it beats the standard GLM;
# otherwise the GLM is the champion and must beat the constant model (issue 17).
FAMILIES = ("xgboost", "glm")
GATE_COMPARATORS = {"xgboost": ("constant", "glm"), "glm": ("constant",)}
FAMILY_RULE = (
    "XGBoost if its test deviance beats the standard GLM's with the bootstrap 95% interval of the difference wholly"
    " below zero; otherwise the standard GLM (the simpler model keeps the place unless the other earns it)"
)


class NotEnoughClaims(ValueError):
    """The training part holds fewer claims than the minimum to train on."""


@dataclass
class ComparisonResult:
    booster: xgb.Booster
    correction: dict | None  # XGBoost's calibration correction, if any
    glm: object
    glm_columns: list[str]
    glm_standard: StandardGlm
    parts: np.ndarray
    # {"xgboost", "xgboost_uncorrected", "glm", "glm_uncorrected", "glm_linear", "constant", "split",
    #  "calibration" (XGBoost's), "glm_calibration"}
    metrics: dict
    gate: dict  # XGBoost's {comparator: paired deviance difference on the test part}
    size_tradeoff: list[dict]
    importances: list[dict]
    glm_coefficients: list[dict]
    test_predictions: dict  # {model: predicted counts on the test part}
    glm_correction: dict | None = None  # the standard GLM's calibration correction, if any
    family: str = "xgboost"  # the family the gate judges and scoring deploys (FAMILY_RULE)
    family_gates: dict | None = None  # {family: {comparator: paired deviance difference}}


def xgb_frequency(result: ComparisonResult, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    """Predicted counts of the XGBoost model as deployed (booster, then its calibration correction)."""
    counts = xgb_predict_counts(result.booster, dataset, rows)
    e = dataset.exposure[rows]
    return corrected(counts / e, result.correction) * e


def deployed_counts(result: ComparisonResult, dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    """Predicted counts of the chosen family as deployed (its calibration correction applied)."""
    if result.family == "xgboost":
        return xgb_frequency(result, dataset, rows)
    e = dataset.exposure[rows]
    return corrected(result.glm_standard.predict_counts(dataset, rows) / e, result.glm_correction) * e


def _calibrated(counts, exposure, val_counts) -> tuple[dict, dict | None, dict | None]:
    """The validation check, the fitted correction (if a decile was off) and the one applied
    (if significant)."""
    before = calibration_check(counts, exposure, val_counts)
    fitted = correction = None
    if not before["within_tolerance"]:
        fitted = correction_fit(counts, exposure, val_counts)
        correction = fitted if fitted["significant"] else None
    return before, fitted, correction


def _calibration_report(before, fitted, correction, y, e, raw, deployed) -> dict:
    return {
        "validation_before": before,
        "corrected": correction is not None,
        "fitted_correction": fitted,
        "test_before": calibration_check(y, e, raw),
        "test_after": calibration_check(y, e, deployed),
    }


def compare(
    dataset: Dataset,
    *,
    monotone: dict[str, int] | None = None,
    seed: int = 0,
    test_share: float = DEFAULT_TEST_SHARE,
    parts: np.ndarray | None = None,
    min_claims: int = 0,
    size_tradeoff: bool = True,
) -> ComparisonResult:
    """Split by group (unless `parts` is given), fit every model on the training part, score all
    on the test part."""
    if parts is None:
        parts = split_by_group(dataset.groups, seed=seed, fractions=fractions_for(test_share))
    train, val, test = (parts == p for p in PARTS)
    train_claims = float(dataset.counts[train].sum())
    if train_claims < max(min_claims, 1):
        raise NotEnoughClaims(
            f"{train_claims:.0f} claims in the training part ({int(train.sum())} of {len(parts)} rows): at least "
            f"{max(min_claims, 1)} are needed to train a claim-frequency model"
        )
    booster, search = xgb_search(dataset, parts, monotone=monotone, seed=seed)
    glm, glm_columns = glm_fit(dataset, parts)
    standard = glm_standard_fit(dataset, parts, monotone=monotone)
    y, e, groups = dataset.counts[test], dataset.exposure[test], dataset.groups[test]
    constant_frequency = train_claims / float(dataset.exposure[train].sum())

    # calibration of both families: judged on validation; corrected there when a decile is off
    y_val, e_val = dataset.counts[val], dataset.exposure[val]
    before, fitted, correction = _calibrated(y_val, e_val, xgb_predict_counts(booster, dataset, val))
    glm_before, glm_fitted, glm_correction = _calibrated(y_val, e_val, standard.predict_counts(dataset, val))
    raw = xgb_predict_counts(booster, dataset, test)
    glm_raw = standard.predict_counts(dataset, test)
    predictions = {
        "xgboost": corrected(raw / e, correction) * e,
        "glm": corrected(glm_raw / e, glm_correction) * e,
        "glm_linear": glm_predict_counts(glm, glm_columns, dataset, test),
        "constant": e * constant_frequency,
    }
    metrics = {name: poisson_metrics(y, e, mu) for name, mu in predictions.items()}
    metrics["xgboost"]["trees"] = booster.num_boosted_rounds()
    metrics["xgboost_uncorrected"] = poisson_metrics(y, e, raw)
    metrics["glm_uncorrected"] = poisson_metrics(y, e, glm_raw)
    metrics["calibration"] = _calibration_report(before, fitted, correction, y, e, raw, predictions["xgboost"])
    metrics["glm_calibration"] = _calibration_report(glm_before, glm_fitted, glm_correction, y, e, glm_raw,
                                                     predictions["glm"])  # fmt: skip
    metrics["split"] = {
        part: {
            "rows": int((parts == part).sum()),
            "groups": len(np.unique(dataset.groups[parts == part])),
            "claims": float(dataset.counts[parts == part].sum()),
            "exposure": float(dataset.exposure[parts == part].sum()),
        }
        for part in PARTS
    }
    family_gates = {
        family: {
            name: paired_deviance_difference(y, e, groups, predictions[family], predictions[name], seed=seed)
            for name in GATE_COMPARATORS[family]
        }
        for family in FAMILIES
    }
    family = "xgboost" if gate_passed(family_gates["xgboost"]["glm"]) else "glm"
    tradeoff = []
    if size_tradeoff:
        X_test = dataset.xgb_matrix(test)
        for row in search:
            tradeoff.append({"model": "chosen" if row.get("chosen") else f"depth {row['max_depth']}, eta {row['eta']}",
                             **row})  # fmt: skip
        chosen = next(r for r in tradeoff if r.get("chosen"))
        chosen["test_mean_poisson_deviance"] = round(metrics["xgboost"]["mean_poisson_deviance"], 6)
        chosen["test_normalised_gini"] = round(metrics["xgboost"]["normalised_gini"], 5)
        chosen["pred_contribs_rows_per_s_1_thread"] = round(contribs_rate(booster, X_test))
    return ComparisonResult(
        booster=booster,
        correction=correction,
        glm=glm,
        glm_columns=glm_columns,
        glm_standard=standard,
        parts=parts,
        metrics=metrics,
        gate=family_gates["xgboost"],
        size_tradeoff=tradeoff or search,
        importances=feature_importances(booster, dataset.features),
        glm_coefficients=glm_coefficients(glm, glm_columns),
        test_predictions=predictions,
        glm_correction=glm_correction,
        family=family,
        family_gates=family_gates,
    )


def gate_passed(comparison: dict) -> bool:
    """A comparison passes when the whole 95% interval of the deviance difference is below zero."""
    return comparison["ci95"][1] < 0


PROTOCOL_MODELS = ("xgboost", "glm", "constant")


def evaluate(
    dataset: Dataset,
    *,
    seeds: list[int],
    test_share: float = DEFAULT_TEST_SHARE,
    monotone: dict[str, int] | None = None,
    min_claims: int = 0,
    test_mask: np.ndarray | None = None,
) -> dict:
    """The benchmark protocol: the procedure repeated over seeds (a new split by group each; with
    `test_mask` the test rows are fixed and only train / validation change), the mean of each
    headline metric over the seeds with a bootstrap 95% interval, XGBoost's ratio to the standard
    GLM, per-seed size and calibration, and the first seed's whole comparison ("details")."""
    runs, per_seed, details = [], [], None
    for seed in seeds:
        parts = None if test_mask is None else split_given_test(dataset.groups, test_mask, seed=seed)
        result = compare(dataset, seed=seed, test_share=test_share, monotone=monotone, min_claims=min_claims,
                         parts=parts, size_tradeoff=details is None)  # fmt: skip
        if details is None:
            details = {"metrics": result.metrics, "size_tradeoff": result.size_tradeoff, "gate": result.gate,
                       "importances": result.importances}  # fmt: skip
        test = result.parts == "test"
        runs.append({"counts": dataset.counts[test], "exposure": dataset.exposure[test],
                     "groups": dataset.groups[test], "predicted": result.test_predictions})  # fmt: skip
        chosen = next(r for r in result.size_tradeoff if r.get("chosen"))
        per_seed.append(
            {
                "seed": seed,
                "trees": chosen["trees"],
                "max_depth": chosen["max_depth"],
                "eta": chosen["eta"],
                "cap_reached": chosen["cap_reached"],
                "test_claims": float(dataset.counts[test].sum()),
                "train_claims": result.metrics["split"]["train"]["claims"],
                "calibration": result.metrics["calibration"],
                **{f"{m}_calibration_deciles": [r["predicted_over_observed"] for r in result.metrics[m]["calibration"]]
                   for m in ("xgboost", "glm")},
                **{f"{m}_{k}": result.metrics[m][k] for m in PROTOCOL_MODELS
                   for k in ("mean_poisson_deviance", "d2", "normalised_gini")},
            }
        )  # fmt: skip
    summary = bootstrap_headline(runs, list(PROTOCOL_MODELS), reference="glm")
    return {"seeds": list(seeds), "test_share": test_share, "summary": summary, "per_seed": per_seed,
            "details": details}  # fmt: skip
