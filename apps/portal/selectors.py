"""Reads for the driver portal: one driver's score, reasons, advice, premium and trips.

Every read takes the driver's own customer id (from the signed-in user, never from the URL), so
a driver cannot reach another driver's rows; each page runs a fixed number of queries."""

from __future__ import annotations

import math
import re
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.customers.models import Customer, Notification
from apps.portal.premium import driver_premium
from apps.risk.features import BY_NAME
from apps.risk.models import RiskModel, RiskScore
from apps.risk.reasons import MATERIAL_EFFECT, is_material, may_name, reason_features
from apps.risk.scale import band_safety_ranges
from apps.risk.selectors import driver_latest_score, driver_score_history
from apps.telematics.models import Trip

HISTORY_POINTS = 30

ADVICE = {
    "harsh_brake_per_100km": "Brake earlier and more gently: look further ahead and leave a bigger gap "
    "to the car in front, so you rarely need to stop hard.",
    "harsh_accel_per_100km": "Pull away smoothly from lights and junctions instead of accelerating hard.",
    "harsh_corner_per_100km": "Slow down before bends and roundabouts, not in them, and steer smoothly.",
    "speeding_share": "Keep to the speed limit, especially where it drops (towns, road works); "
    "cruise control or a speed limiter helps on long stretches.",
    "night_share": "Drive in daylight where you can: the same kilometres carry more risk at night.",
    "phone_use_per_hour": "Leave the phone alone while the car is moving: set the route before you "
    "start and let calls wait or go to voicemail.",
    "rush_hour_share": "Shift trips out of rush hour when you can: dense stop-and-go traffic "
    "raises the risk of a collision.",
    "highway_share": "Your share of motorway driving raises your expected claims in this model; "
    "keep a safe distance and take breaks on long motorway trips.",
    "km": "Fewer kilometres mean fewer chances of a claim: combine errands or use other transport "
    "for short trips when you can.",
}


# --- the signed-in driver ---------------------------------------------------------------------------


# What every portal page reads of the driver (the layout, rewards' region, privacy's choices).
PORTAL_DRIVER_FIELDS = (
    "id", "first_name", "last_name", "user_id", "email", "home_store_id", "leaderboard_opt_in", "notify_by_email",
)  # fmt: skip


def portal_driver(*, user) -> Customer | None:
    """The customer record linked to this user, or None (staff without one, anonymous), with the
    number of unread notifications the layout shows (`unread_count`), in one query."""
    if not getattr(user, "is_authenticated", False):
        return None
    unread = (
        Notification.objects.filter(customer_id=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Customer.objects.filter(user_id=user.pk)
        .only(*PORTAL_DRIVER_FIELDS)
        .annotate(unread_count=Coalesce(Subquery(unread), 0))
        .first()
    )


# --- score, reasons and advice --------------------------------------------------------------------


def _feature_shown(name: str, value: Any) -> str | None:
    feature = BY_NAME.get(name)
    if feature is None or value is None:
        return None
    gap = "" if feature.unit.startswith("%") else " "
    return f"{float(value) * feature.scale:.{feature.decimals}f}{gap}{feature.unit}"


def score_advice(*, score: RiskScore) -> list[dict[str, Any]]:
    """The features that raise this driver's expected claims (positive SHAP contributions), the
    largest first, each with its effect on expected claims and what to do about it: by the same
    rule as the reasons, only features the model's held-out drivers support and only effects of
    at least MATERIAL_EFFECT (`apps.risk.reasons`)."""
    out = []
    features = score.features or {}
    supported = reason_features(score.model.model_card)
    for name, contribution in (score.contributions or {}).items():
        effect = math.expm1(float(contribution))
        if effect <= 0 or not is_material(effect) or name not in ADVICE or not may_name(name, supported):
            continue
        out.append(
            {
                "feature": name,
                "label": BY_NAME[name].label if name in BY_NAME else name,
                "value": _feature_shown(name, features.get(name)),
                "effect_percent": round(effect * 100),
                "advice": ADVICE[name],
            }
        )
    out.sort(key=lambda a: (-a["effect_percent"], a["feature"]))
    return out


BAND_SHADES = {"low": "rgba(46,125,50,0.14)", "mild": "rgba(161,98,7,0.12)", "medium": "rgba(230,81,0,0.13)",
               "high": "rgba(198,40,40,0.14)"}  # fmt: skip


def score_trend_chart(scores: list[RiskScore]) -> dict[str, Any] | None:
    """The safety score over time (oldest first) as a chart spec for fleetops.js, with the bands
    shaded behind it where the scoring puts them; None with fewer than two scores (no trend)."""
    if len(scores) < 2:
        return None
    ordered = list(reversed(scores))
    labels = dict(RiskScore.Band.choices)
    return {
        "type": "line",
        "labels": [s.as_of.strftime("%d %b") for s in ordered],
        "datasets": [{"label": "Safety score", "data": [s.safety_score for s in ordered], "colour": "#1e88e5"}],
        "y_min": 0,
        "y_max": 100,
        "bands": [
            {"from": round(lo, 1), "to": round(hi, 1), "colour": BAND_SHADES[name], "label": f"{labels[name]} risk"}
            for name, lo, hi in band_safety_ranges()
        ],
    }


# --- the dashboard --------------------------------------------------------------------------------


def claim_chance(expected_per_year: float | None) -> tuple[str, str] | None:
    """Expected claims a year said as how many drivers have at least one claim in a year
    (Poisson: chance 1 - exp(-expected)), with the verb that agrees: ("about 1 in 14", "has"),
    ("about 9 in 10", "have"); None without a figure. A chance of one half or more reads in
    tenths, so a high frequency never becomes "1 in 1"."""
    if expected_per_year is None or float(expected_per_year) <= 0:
        return None
    chance = -math.expm1(-float(expected_per_year))
    if chance < 0.5:
        return f"about 1 in {round(1 / chance)}", "has"
    if chance >= 0.95:
        return "about 19 in 20", "have"
    return f"about {min(round(chance * 10), 9)} in 10", "have"


# A reason's closing effect ("…: +22% expected claims"): the dashboard says it in words instead.
REASON_EFFECT = re.compile(r"\s*[:,]\s*[+\u2212-]?\d+% expected claims\s*$")


def _reason_words(reason: Any) -> dict[str, Any]:
    """A score's reason ({"feature", "effect", "text"}: "harsh braking 4.2 per 100 km, more than
    90% of drivers: +22% expected claims") as what it is and what it does."""
    text = str(reason.get("text", "")) if isinstance(reason, dict) else str(reason)
    effect = reason.get("effect") if isinstance(reason, dict) else None
    what = REASON_EFFECT.sub("", text) if effect is not None else text
    what = what[:1].upper() + what[1:]
    if effect is None:
        return {"what": what, "does": "", "raises": None}
    verb = "raises" if effect > 0 else "lowers"
    return {
        "what": what,
        "does": f"{verb} your risk of a claim by {round(abs(float(effect)) * 100)}%",
        "raises": effect > 0,
    }


def no_score_reason(*, trip_count: int) -> str:
    """Why the driver has no current score, as the code the dashboard words (one query at most)."""
    if not trip_count:
        return "no_trips"
    if not RiskModel.objects.filter(is_active=True).exists():
        return "no_model"
    return "not_scored_yet"


def driver_dashboard(*, driver_id: int) -> dict[str, Any]:
    """Everything the dashboard shows, in a fixed number of queries."""
    score = driver_latest_score(driver_id=driver_id)
    history = list(driver_score_history(driver_id=driver_id)[:HISTORY_POINTS])
    advice = score_advice(score=score) if score is not None else []
    trip_count = Trip.objects.filter(driver_id=driver_id).count()
    context: dict[str, Any] = {
        "score": score,
        "history": history,
        "trend_chart": score_trend_chart(history),
        "advice": advice,
        "premium": driver_premium(driver_id=driver_id, score=score, advice=advice),
        "trip_count": trip_count,
    }
    if score is None:
        context["no_score"] = no_score_reason(trip_count=trip_count)
        return context
    mean = (score.model.model_card or {}).get("portfolio_mean_frequency")
    relative_percent = round((score.relative_risk - 1.0) * 100)
    context.update(
        {
            # Reasons are {"feature", "effect", "text"} documents; older rows may hold plain strings.
            "reasons": [_reason_words(r) for r in score.reasons or []],
            "claim_chance": claim_chance(score.expected_claims_per_year),
            "average_chance": claim_chance(mean),
            "relative_percent": relative_percent,
            "material_percent": round(MATERIAL_EFFECT * 100),
            "relative_percent_abs": abs(relative_percent),
            "band_ranges": {name: (round(lo), round(hi)) for name, lo, hi in band_safety_ranges()},
        }
    )
    return context


# --- notifications ----------------------------------------------------------------------------


def driver_notifications(*, driver_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(customer_id=driver_id).order_by("-created_at", "-id")
