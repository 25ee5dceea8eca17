"""The claim-frequency procedure shared by `train_risk_model` and `risk_benchmark`. Pure
numpy/pandas: nothing here touches the database.

- `data`: the claims table and its split by group;
- `metrics`: deviance, D², Gini, calibration by decile, bootstrap intervals;
- `boosting`: XGBoost Poisson from log(exposure) + log(observed training frequency), size chosen
  on validation, SHAP summaries, the JSON artifact;
- `glm`: the standard (splines, logs, one-hot) and linear Poisson GLMs;
- `monotone`: the GLM's monotone terms for the features XGBoost keeps monotone;
- `additive`: the standard GLM as a deployable JSON artifact, its margin and contributions;
- `calibration`: the decile check and its correction;
- `protocol`: one comparison on one split, and the repeated protocol with intervals;
- `report`: the comparisons as text lines.
"""

from apps.risk.modeling.additive import (
    contributions_summary,
    glm_contributions,
    glm_export,
    glm_load,
    glm_margin,
    glm_save,
)
from apps.risk.modeling.boosting import (
    BASE_ATTRIBUTE,
    EARLY_STOPPING_ROUNDS,
    SEARCH_GRID,
    XGB_MAX_TREES,
    XGB_PARAMS,
    base_log_frequency,
    booster_base,
    booster_load,
    booster_save,
    contribs_rate,
    feature_importances,
    shap_summary,
    xgb_fit,
    xgb_predict_counts,
    xgb_search,
)
from apps.risk.modeling.calibration import calibration_check, corrected, correction_fit
from apps.risk.modeling.data import (
    DEFAULT_FRACTIONS,
    DEFAULT_TEST_SHARE,
    PARTS,
    Dataset,
    data_hash,
    fractions_for,
    split_by_group,
    split_given_test,
)
from apps.risk.modeling.glm import glm_fit, glm_predict_counts, glm_standard_fit
from apps.risk.modeling.metrics import (
    bootstrap_headline,
    calibration_by_decile,
    d2_poisson,
    gini,
    lorenz_curve,
    mean_poisson_deviance,
    normalised_gini,
    paired_deviance_difference,
    poisson_deviance_total,
    poisson_metrics,
)
from apps.risk.modeling.protocol import (
    FAMILIES,
    FAMILY_RULE,
    GATE_COMPARATORS,
    ComparisonResult,
    NotEnoughClaims,
    compare,
    deployed_counts,
    evaluate,
    gate_passed,
    xgb_frequency,
)
from apps.risk.modeling.report import comparison_lines, protocol_lines

__all__ = [
    "BASE_ATTRIBUTE",
    "DEFAULT_FRACTIONS",
    "DEFAULT_TEST_SHARE",
    "EARLY_STOPPING_ROUNDS",
    "FAMILIES",
    "FAMILY_RULE",
    "GATE_COMPARATORS",
    "PARTS",
    "SEARCH_GRID",
    "XGB_MAX_TREES",
    "XGB_PARAMS",
    "ComparisonResult",
    "Dataset",
    "NotEnoughClaims",
    "base_log_frequency",
    "booster_base",
    "booster_load",
    "booster_save",
    "bootstrap_headline",
    "calibration_by_decile",
    "calibration_check",
    "compare",
    "comparison_lines",
    "contribs_rate",
    "contributions_summary",
    "corrected",
    "correction_fit",
    "d2_poisson",
    "data_hash",
    "deployed_counts",
    "evaluate",
    "feature_importances",
    "fractions_for",
    "gate_passed",
    "gini",
    "glm_contributions",
    "glm_export",
    "glm_fit",
    "glm_load",
    "glm_margin",
    "glm_predict_counts",
    "glm_save",
    "glm_standard_fit",
    "lorenz_curve",
    "mean_poisson_deviance",
    "normalised_gini",
    "paired_deviance_difference",
    "poisson_deviance_total",
    "poisson_metrics",
    "protocol_lines",
    "shap_summary",
    "split_by_group",
    "split_given_test",
    "xgb_fit",
    "xgb_frequency",
    "xgb_predict_counts",
    "xgb_search",
]
