"""Rental fraud: configurable rules and a robust anomaly score per customer → fraud_risk events.

Rules (INTELLIGENCE["RENTAL_FRAUD"], each with a weight): more than MAX_RENTALS rentals in the
window, an average amount above MAX_AVG_AMOUNT, MAX_CARDS or more distinct cards within
CARDS_WINDOW_DAYS, rentals overlapping in time, and MIN_FAR_RETURNS returns to a store in another
region more than FAR_RETURN_KM from home. The anomaly score compares each customer's window
behaviour (rentals, average and total amount, cards, rental length) with the median of their RFM
segment (from the year before the window; "new" for customers without history) in robust
z-scores: (x - median) / (1.4826·MAD), falling back to 1.2533·mean absolute deviation and a floor
so a segment of identical values does not make one step look infinite. Only the high side counts.

All of it is one SQL statement (sql/rental_fraud.sql); Python only words the findings.
"""

import datetime as dt
import json
from decimal import Decimal

from django.utils import timezone
from psycopg import sql

from apps.alerts.services import events_sync
from apps.common.sql import fetch_dicts, statement_sql
from apps.intelligence.config import intelligence_config
from apps.intelligence.segments import rfm_sql

SOURCE = "intelligence.rental_fraud"

DEFAULTS = {
    "WINDOW_DAYS": 30,
    "MAX_RENTALS": 8,
    "MAX_AVG_AMOUNT": 1500,
    "CARDS_WINDOW_DAYS": 7,
    "MAX_CARDS": 3,
    "FAR_RETURN_KM": 300,
    "MIN_FAR_RETURNS": 2,
    "SEGMENT_LOOKBACK_DAYS": 365,
    "MIN_SEGMENT_SIZE": 30,
    "ANOMALY_Z": 3.5,
    "REASON_Z": 3.0,
    "MIN_EVENT_SCORE": 30,
    "WEIGHTS": {
        "many_rentals": 25,
        "high_average_amount": 20,
        "many_cards": 30,
        "overlapping_rentals": 35,
        "far_returns_elsewhere": 20,
    },
}

RULE_TEXT = {
    "many_rentals": "{rentals} rentals in {window} days (more than {MAX_RENTALS})",
    "high_average_amount": "average amount {avg_amount} above {MAX_AVG_AMOUNT}",
    "many_cards": "{max_cards} different cards within {CARDS_WINDOW_DAYS} days",
    "overlapping_rentals": "{overlapping_pairs} pair(s) of rentals on the road at the same time",
    "far_returns_elsewhere": "{far_returns} return(s) in another region, up to {farthest_km} km from home",
}
FEATURE_TEXT = {
    "rentals": "rentals",
    "avg_amount": "average amount",
    "total_spend": "total spend",
    "max_cards": "cards used",
    "avg_days": "average rental length (days)",
}


def severity_for(score: float) -> str:
    return "critical" if score >= 80 else "high" if score >= 60 else "medium" if score >= 40 else "low"


def anomaly_points(max_z: float, threshold: float) -> float:
    """0 below the threshold, then 20 points rising 10 per robust SD, at most 50."""
    if max_z is None or max_z < threshold:
        return 0.0
    return min(50.0, 20.0 + 10.0 * (max_z - threshold))


def rental_fraud_scan(*, as_of: dt.datetime | None = None) -> list[dict]:
    """Scores every customer with rentals in the window ending `as_of`; returns the customers who
    break a rule or stand out, with score, severity, rules hit and anomaly reasons (best first)."""
    cfg = intelligence_config("RENTAL_FRAUD", DEFAULTS)
    weights = {**DEFAULTS["WEIGHTS"], **cfg["WEIGHTS"]}
    until = as_of or timezone.now()
    since = until - dt.timedelta(days=cfg["WINDOW_DAYS"])
    params = {
        "since": since,
        "until": until,
        "rfm_since": since - dt.timedelta(days=cfg["SEGMENT_LOOKBACK_DAYS"]),
        "rfm_until": since,
        "cards_window_days": cfg["CARDS_WINDOW_DAYS"],
        "far_return_km": cfg["FAR_RETURN_KM"],
        "min_segment_size": cfg["MIN_SEGMENT_SIZE"],
        "max_rentals": cfg["MAX_RENTALS"],
        "max_avg_amount": Decimal(str(cfg["MAX_AVG_AMOUNT"])),
        "max_cards": cfg["MAX_CARDS"],
        "min_far_returns": cfg["MIN_FAR_RETURNS"],
        "reason_z": cfg["REASON_Z"],
    }
    rows = fetch_dicts(statement_sql(__name__, "rental_fraud.sql", rfm=sql.SQL(rfm_sql())), params)

    results = []
    for row in rows:
        facts = {**cfg, **row, "window": cfg["WINDOW_DAYS"]}
        rules = [name for name in weights if row[name]]
        reasons = [RULE_TEXT[name].format(**facts) for name in rules]
        anomalies = sorted(
            (
                {"feature": name, **values}
                for name, values in json.loads(row["z_scores"] or "{}").items()
                if values["z"] is not None and float(values["z"]) >= cfg["REASON_Z"]
            ),
            key=lambda a: -float(a["z"]),
        )
        reasons += [
            f"{FEATURE_TEXT[a['feature']]} {a['value']} is {a['z']} robust SDs above the median {a['median']}"
            f" of {row['reference']}"
            for a in anomalies
        ]
        max_z = float(row["max_z"]) if row["max_z"] is not None else None
        score = min(100.0, sum(weights[name] for name in rules) + anomaly_points(max_z, cfg["ANOMALY_Z"]))
        results.append(
            {
                "customer_id": row["customer_id"],
                "score": round(score, 1),
                "severity": severity_for(score),
                "rules": rules,
                "anomalies": anomalies,
                "max_z": round(max_z, 2) if max_z is not None else None,
                "segment": row["segment"],
                "reference": row["reference"],
                "reasons": reasons,
                "features": {
                    key: row[key]
                    for key in (
                        "rentals",
                        "avg_amount",
                        "total_spend",
                        "avg_days",
                        "max_cards",
                        "overlapping_pairs",
                        "far_returns",
                        "farthest_km",
                    )
                },
            }
        )
    results.sort(key=lambda r: (-r["score"], r["customer_id"]))
    return results


def rental_fraud_run(*, as_of: dt.datetime | None = None) -> dict:
    """The nightly job: scan, then open/update fraud_risk events for customers scoring at least
    MIN_EVENT_SCORE and auto-resolve the ones that no longer do."""
    cfg = intelligence_config("RENTAL_FRAUD", DEFAULTS)
    scored = rental_fraud_scan(as_of=as_of)
    flagged = [r for r in scored if r["score"] >= cfg["MIN_EVENT_SCORE"]]
    findings = [
        {
            "severity": r["severity"],
            "entity_type": "customers.customer",
            "entity_id": r["customer_id"],
            "title": f"Rental fraud risk {r['score']:.0f}/100 for customer {r['customer_id']}",
            "description": "\n".join(f"- {reason}" for reason in r["reasons"]),
            "metadata": {
                "rental_fraud": {key: r[key] for key in ("rules", "anomalies", "segment", "reference", "features")}
            },
            "score": r["score"],
        }
        for r in flagged
    ]
    sync = events_sync(event_type="fraud_risk", findings=findings, source=SOURCE)
    return {
        "customers_flagged": len(scored),
        "events": sync,
        "by_severity": {
            s: sum(1 for r in flagged if r["severity"] == s) for s in ("critical", "high", "medium", "low")
        },
        "top": [{k: r[k] for k in ("customer_id", "score", "rules", "max_z")} for r in scored[:20]],
    }
