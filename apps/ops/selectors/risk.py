"""Risk and pricing: the active model's card as charts, the score and band distribution, and the
premiums (PHYD factors and discounts, PHYD vs PAYD vs traditional)."""

from django.db import connection
from django.db.models import Count
from scipy.special import gammaincinv  # loaded with the URLs at start, not by the first viewer

from apps.pricing.models import Policy, Quote
from apps.risk.features import BY_NAME
from apps.risk.models import RiskModel, RiskScore
from apps.risk.selectors import risk_model_active

DASH = "\u2013"

FAMILY_LABELS = {"xgboost": "XGBoost", "glm": "GLM (Poisson, splines)"}
COMPARATOR_LABELS = {"constant": "a constant model", "glm": "the GLM", "active": "the model it replaced"}

__all__ = [
    "band_counts",
    "calibration_chart",
    "drift_summary",
    "model_comparison",
    "model_verdict",
    "premium_summary",
    "risk_model_active",
    "score_distribution",
    "shap_summary",
]


def family(model: RiskModel) -> str:
    """The deployed family: the card says so; models trained before the choice were XGBoost."""
    return (model.model_card or {}).get("family") or "xgboost"


def model_comparison(model: RiskModel) -> list[dict]:
    """Test-set deviance and Gini of the active family first, the other family, and a constant
    model (its deviance stored, or recovered from D² = 1 - deviance / constant deviance)."""
    active = family(model)
    rows = []
    constant = (model.metrics.get("constant") or {}).get("mean_poisson_deviance")
    for key in sorted(FAMILY_LABELS, key=lambda k: k != active):
        m = model.metrics.get(key) or {}
        if not m:
            continue
        rows.append(
            {
                "label": FAMILY_LABELS[key] + (" — active" if key == active else ""),
                "active": key == active,
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


def model_verdict(model: RiskModel) -> dict:
    """Is the active model any good, from its card: the family and why, each gate comparison
    (test deviance difference with its bootstrap 95% interval), the held-out data, calibration,
    where its training data come from and which features its reasons may name."""
    card, metrics = model.model_card or {}, model.metrics or {}
    active = family(model)
    activation = card.get("activation") or {}
    comparisons = activation.get("comparisons") or (card.get("gate") or {}).get("comparisons") or {}
    gate = []
    for name, row in comparisons.items():
        if "error" in row or not row.get("ci95"):
            gate.append({"against": COMPARATOR_LABELS.get(name, name), "error": row.get("error", "no interval")})
            continue
        gate.append(
            {
                "against": COMPARATOR_LABELS.get(name, name) + (f" ({row['version']})" if row.get("version") else ""),
                "difference": row["difference"],
                "low": row["ci95"][0],
                "high": row["ci95"][1],
                "relative": row.get("relative"),
                "passed": row["ci95"][1] < 0,
            }
        )
    choice = (card.get("family_choice") or {}).get("xgboost_vs_glm")
    calibration = card.get("calibration") or {}
    test = (metrics.get("split") or {}).get("test") or {}
    return {
        "family": active,
        "family_label": FAMILY_LABELS.get(active, active),
        "choice": None
        if not choice
        else {"difference": choice["difference"], "low": choice["ci95"][0], "high": choice["ci95"][1]},
        "gate": gate,
        "decision": activation.get("decision"),
        "reason": activation.get("reason") or "",
        "test_drivers": test.get("groups"),
        "test_claims": test.get("claims"),
        "worst_decile": (calibration.get("test_after") or {}).get("worst_decile_error"),
        "corrected": calibration.get("corrected"),
        "source": (card.get("data") or {}).get("source"),
        # None: a model trained before the rule names every feature (apps/risk/reasons.py)
        "reason_features": None
        if card.get("reason_features") is None
        else [BY_NAME[name].label if name in BY_NAME else name for name in card["reason_features"]],
    }


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


def _poisson_interval(claims: int, exposure: float) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a frequency observed as `claims` over `exposure`: the
    Poisson mean's quantiles, chi2(2k)/2 = Gamma(k), through scipy.special (scipy.stats took
    about 0.6 s to import on the page's first view)."""
    low = float(gammaincinv(claims, 0.025)) if claims > 0 else 0.0
    high = float(gammaincinv(claims + 1, 0.975))
    return low / exposure, high / exposure


def calibration_chart(model: RiskModel) -> dict:
    """Predicted against observed claim frequency by decile of the active family's prediction on
    the held-out drivers, the observed one with its exact Poisson 95% interval; and the rows of
    the table under it."""
    active = family(model)
    table = (model.metrics.get(active) or {}).get("calibration") or []
    rows, low, high = [], [], []
    for row in table:
        exposure = row.get("exposure")
        if not exposure and row.get("predicted_claims") and row.get("predicted_frequency"):
            exposure = row["predicted_claims"] / row["predicted_frequency"]
        claims = row.get("observed_claims")
        a, b = _poisson_interval(int(claims), exposure) if exposure and claims is not None else (None, None)
        low.append(None if a is None else round(a, 4))
        high.append(None if b is None else round(b, 4))
        ratio = row.get("predicted_over_observed")
        inside = None if a is None else bool(a <= row["predicted_frequency"] <= b)
        rows.append({**row, "off": None if ratio is None else ratio - 1, "inside": inside})
    return {
        "type": "line",
        "labels": [f"D{row['decile']}" for row in table],
        "datasets": [
            {"label": "Observed: 95% interval low", "data": low, "band": "low"},
            {"label": "Observed: 95% interval", "data": high, "band": "high"},
            {
                "label": "Observed claims per driver-year",
                "data": [row["observed_frequency"] for row in table],
                "colour": "#e53935",
            },
            {
                "label": f"{FAMILY_LABELS.get(active, active)} predicted",
                "data": [row["predicted_frequency"] for row in table],
                "dashed": True,
                "colour": "#1e88e5",
            },
        ],
        "unit": "",
        "y_title": "claims per driver-year",
        "rows": sum(row["rows"] for row in table),
        "table": rows,
    }


def drift_summary(model: RiskModel) -> dict | None:
    """The latest drift check of this model (the risk.drift job's result): PSI per feature and
    of the score, as a chart against the 0.1 / 0.25 thresholds; None when none ran yet."""
    import datetime as dt

    from apps.jobs.models import JobRun
    from apps.risk.services.drift import PSI_ALERT, SCORE

    run = (
        JobRun.objects.filter(kind="risk.drift", status=JobRun.Status.SUCCEEDED, result__model=model.version)
        .order_by("-finished_at")
        .only("finished_at", "result")
        .first()
    )
    if run is None:
        return None
    psi = run.result.get("psi") or {}
    ordered = sorted(psi.items(), key=lambda item: -item[1])
    return {
        "as_of": dt.date.fromisoformat(run.result["as_of"]) if run.result.get("as_of") else None,
        "checked_at": run.finished_at,
        "drivers": run.result.get("drivers"),
        "drifted": run.result.get("drifted") or [],
        "threshold": PSI_ALERT,
        "worst": ordered[0] if ordered else None,
        "chart": {
            "type": "bar",
            "horizontal": True,
            "labels": ["score" if name == SCORE else name.replace("_", " ") for name, _ in ordered],
            "datasets": [{"label": "Population stability index", "data": [round(v, 3) for _, v in ordered]}],
            "unit": "",
        },
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
