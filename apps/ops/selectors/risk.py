"""Risk and pricing: the active model's card as charts, the score and band distribution, and the
premiums (PHYD factors and discounts, PHYD vs PAYD vs traditional)."""

from django.db import connection
from django.db.models import Count

from apps.pricing.models import Policy, Quote
from apps.risk.models import RiskModel, RiskScore
from apps.risk.selectors import risk_model_active

DASH = "\u2013"

__all__ = [
    "band_counts",
    "calibration_chart",
    "model_comparison",
    "premium_summary",
    "risk_model_active",
    "score_distribution",
    "shap_summary",
]


def model_comparison(model: RiskModel) -> list[dict]:
    """Test-set deviance and Gini of XGBoost, the GLM and a constant model (deviance of the
    constant one recovered from D² = 1 - deviance / constant deviance)."""
    rows = []
    constant = None
    for key, label in (("xgboost", "XGBoost"), ("glm", "GLM (Poisson)")):
        m = model.metrics.get(key) or {}
        if not m:
            continue
        rows.append(
            {
                "label": label,
                "deviance": m.get("mean_poisson_deviance"),
                "gini": m.get("normalised_gini"),
                "d2": m.get("d2"),
                "ratio": m.get("predicted_over_observed"),
            }
        )
        if constant is None and m.get("d2") is not None and m.get("d2") < 1 and m.get("mean_poisson_deviance"):
            constant = m["mean_poisson_deviance"] / (1 - m["d2"])
    rows.append({"label": "Constant (portfolio mean)", "deviance": constant, "gini": 0.0, "d2": 0.0, "ratio": None})
    return rows


def comparison_chart(rows: list[dict]) -> dict:
    return {
        "type": "bar",
        "labels": [r["label"] for r in rows],
        "datasets": [
            {
                "label": "Mean Poisson deviance (lower is better)",
                "data": [round(r["deviance"], 3) if r["deviance"] else None for r in rows],
            },
            {
                "label": "Normalised Gini (higher is better)",
                "data": [round(r["gini"], 3) if r["gini"] is not None else None for r in rows],
                "axis": "y2",
            },
        ],
        "unit": "",
        "unit2": "",
    }


def calibration_chart(model: RiskModel) -> dict:
    xgb = (model.metrics.get("xgboost") or {}).get("calibration") or []
    glm = (model.metrics.get("glm") or {}).get("calibration") or []
    return {
        "type": "line",
        "labels": [f"D{row['decile']}" for row in xgb],
        "datasets": [
            {"label": "Observed claims per year", "data": [row["observed_frequency"] for row in xgb]},
            {"label": "XGBoost predicted", "data": [row["predicted_frequency"] for row in xgb], "dashed": True},
            {"label": "GLM predicted", "data": [row["predicted_frequency"] for row in glm[: len(xgb)]], "dashed": True},
        ],
        "unit": "",
        "y_title": "claims per driver-year",
        "rows": sum(row["rows"] for row in xgb),
    }


def shap_summary(model: RiskModel) -> dict:
    """Mean absolute SHAP contribution per feature over the model's latest scores (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.key, avg(abs(c.value::float8)) FROM risk_riskscore s, jsonb_each_text(s.contributions) c"
            " WHERE s.model_id = %s AND s.as_of = (SELECT max(as_of) FROM risk_riskscore WHERE model_id = %s)"
            " GROUP BY c.key ORDER BY 2 DESC",
            [model.pk, model.pk],
        )
        rows = cursor.fetchall()
    return {
        "type": "bar",
        "horizontal": True,
        "labels": [key.replace("_", " ") for key, _ in rows],
        "datasets": [{"label": "Mean |SHAP| (log claim frequency)", "data": [round(v, 4) for _, v in rows]}],
        "unit": "",
    }


def score_distribution(model: RiskModel) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT least(safety_score / 10, 9) AS bucket, count(*) FROM risk_riskscore"
            " WHERE model_id = %s AND as_of = (SELECT max(as_of) FROM risk_riskscore WHERE model_id = %s)"
            " GROUP BY 1 ORDER BY 1",
            [model.pk, model.pk],
        )
        counts = dict(cursor.fetchall())
    return {
        "type": "bar",
        "labels": [f"{b * 10}{DASH}{b * 10 + 9 if b < 9 else 100}" for b in range(10)],
        "datasets": [{"label": "Drivers", "data": [counts.get(b, 0) for b in range(10)]}],
        "unit": "",
    }


def band_counts(model: RiskModel) -> dict:
    latest = RiskScore.objects.filter(model=model).order_by("-as_of").values_list("as_of", flat=True).first()
    counts = dict.fromkeys(RiskScore.Band.values, 0)
    for band, n in (
        RiskScore.objects.filter(model=model, as_of=latest).values_list("band").annotate(n=Count("id")).order_by()
    ):
        counts[band] = n
    return {
        "type": "doughnut",
        "labels": [b.capitalize() for b in counts],
        "datasets": [{"label": "Drivers", "data": list(counts.values())}],
        "as_of": latest,
        "counts": counts,
    }


def premium_summary() -> dict:
    """Active policies by kind, and the PHYD quotes' telematics factors and discounts as a share of
    the traditional premium (three queries)."""
    kinds = dict.fromkeys(("phyd", "payd", "traditional"), 0)
    for kind, n in Policy.objects.filter(status="active").values_list("kind").annotate(n=Count("id")).order_by():
        kinds[kind] = n
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT width_bucket(telematics_factor::float8, 0.5, 1.5, 10) AS b, count(*) FROM pricing_quote"
            " WHERE kind = 'phyd' GROUP BY 1 ORDER BY 1"
        )
        factors = dict(cursor.fetchall())
    discounts = Quote.objects.filter(kind="phyd", traditional_premium__gt=0).order_by()
    buckets = [0] * 6
    for discount, traditional in discounts.values_list("discount", "traditional_premium"):
        share = float(discount) / float(traditional)
        buckets[min(5, max(0, int((share + 0.3) / 0.15)))] += 1
    return {
        "kinds": kinds,
        "kind_chart": {
            "type": "bar",
            "labels": ["PHYD", "PAYD", "Traditional"],
            "datasets": [{"label": "Active policies", "data": list(kinds.values())}],
            "unit": "",
        },
        "factor_chart": {
            "type": "bar",
            "labels": ["< 0.5"]
            + [f"{0.5 + 0.1 * (b - 1):.1f}{DASH}{0.5 + 0.1 * b:.1f}" for b in range(1, 11)]
            + ["≥ 1.5"],
            "datasets": [{"label": "PHYD quotes", "data": [factors.get(b, 0) for b in range(12)]}],
            "unit": "",
        },
        "discount_chart": {
            "type": "bar",
            "labels": [
                "surcharge > 15 %",
                f"surcharge 0{DASH}15 %",
                f"discount 0{DASH}15 %",
                f"discount 15{DASH}30 %",
                f"discount 30{DASH}45 %",
                "discount > 45 %",
            ],
            "datasets": [{"label": "PHYD quotes", "data": buckets}],
            "unit": "",
        },
    }
