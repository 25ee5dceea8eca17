"""Reads for the driver portal: one driver's score, reasons, advice, premium and trips.

Every read takes the driver's own customer id (from the signed-in user, never from the URL), so
a driver cannot reach another driver's rows; each page runs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.customers.models import Customer, Notification
from apps.partners.selectors import driver_latest_score, driver_score_history
from apps.pricing.models import Policy, PolicyKind, PremiumChange, Quote
from apps.pricing.services import Tariff, quote_compute
from apps.risk.features import BY_NAME
from apps.risk.models import RiskScore
from apps.telematics.models import Trip

HISTORY_POINTS = 30
# Contributions under ~1% of expected claims are not worth advice (the reasons use the same cut).
MIN_ADVICE_EFFECT = 0.01
# What-if premiums are priced at these safety scores (those better than the driver's own).
WHAT_IF_SCORES = (70, 80, 90)

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


def portal_driver(*, user) -> Customer | None:
    """The customer record linked to this user, or None (staff without one, anonymous)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Customer.objects.filter(user_id=user.pk).only("id", "first_name", "last_name", "user_id").first()


# --- score, reasons and advice --------------------------------------------------------------------


def _feature_shown(name: str, value: Any) -> str | None:
    feature = BY_NAME.get(name)
    if feature is None or value is None:
        return None
    gap = "" if feature.unit.startswith("%") else " "
    return f"{float(value) * feature.scale:.{feature.decimals}f}{gap}{feature.unit}"


def score_advice(*, score: RiskScore) -> list[dict[str, Any]]:
    """The features that raise this driver's expected claims (positive SHAP contributions), the
    largest first, each with its effect on expected claims and what to do about it."""
    out = []
    features = score.features or {}
    for name, contribution in (score.contributions or {}).items():
        effect = math.expm1(float(contribution))
        if effect < MIN_ADVICE_EFFECT or name not in ADVICE:
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


def _history_points(scores: list[RiskScore]) -> list[dict[str, Any]]:
    """Oldest first, with x/y positions for the small SVG chart (100 x 40 viewBox, score 0-100)."""
    n = len(scores)
    points = []
    for i, s in enumerate(reversed(scores)):
        x = 50.0 if n == 1 else round(100.0 * i / (n - 1), 2)
        points.append(
            {
                "as_of": s.as_of,
                "safety_score": s.safety_score,
                "band": s.band,
                "model_version": s.model.version,
                "x": x,
                "y": round(40.0 - 0.4 * s.safety_score, 2),
            }
        )
    return points


# --- premium --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PremiumView:
    policy: Policy
    quote: Quote
    breakdown: list[dict[str, Any]]
    what_if: list[dict[str, Any]]
    what_if_note: str

    @property
    def surcharge(self) -> Decimal:
        """The telematics surcharge as a positive amount (0 when it is a discount)."""
        return max(-self.quote.discount, Decimal("0"))


def _relative_risk_at(safety_score: int) -> float:
    # Imported here so the portal's pages do not load XGBoost up front.
    from apps.risk.scoring import relative_risk_for_safety_score

    return relative_risk_for_safety_score(safety_score)


def premium_what_if(*, quote: Quote) -> tuple[list[dict[str, Any]], str]:
    """The annual premium this quote would have at better safety scores, priced by the pricing
    code itself (quote_compute on the quote's own inputs and rate plan, only the relative risk
    changed). Only for an eligible pay-how-you-drive quote: other premiums do not depend on the
    score. Returns (rows, why there are none)."""
    inputs = quote.inputs or {}
    score = inputs.get("risk_score")
    if quote.kind != PolicyKind.PHYD:
        return [], "Your policy is not priced on how you drive, so a better score does not change it."
    eligibility = next((s for s in quote.breakdown or [] if s.get("step") == "eligibility"), None)
    if not score or eligibility is None or not eligibility.get("eligible"):
        return [], "Your premium is the traditional one for now, so a better score does not change it yet."
    current = int(score["safety_score"])
    rows = []
    for target in WHAT_IF_SCORES:
        if target <= current:
            continue
        relative = round(_relative_risk_at(target), 6)
        priced = quote_compute(
            inputs={**inputs, "risk_score": {**score, "relative_risk": relative, "safety_score": target}},
            tariff=Tariff.of(quote.rate_plan),
        )
        rows.append(
            {
                "safety_score": target,
                "relative_risk": relative,
                "annual_premium": priced["annual_premium"],
                "saving": quote.annual_premium - priced["annual_premium"],
            }
        )
    return rows, "" if rows else "Your score is already at the top of the range we price."


def driver_premium(*, driver_id: int) -> PremiumView | None:
    """The driver's active policy (the most recently bound) and the quote it is priced on now:
    the latest requote that moved it, else the bound quote."""
    policy = (
        Policy.objects.filter(driver_id=driver_id, status=Policy.Status.ACTIVE)
        .select_related("partner", "quote__rate_plan")
        .order_by("-bound_at", "-id")
        .first()
    )
    if policy is None:
        return None
    change = (
        PremiumChange.objects.filter(policy_id=policy.pk)
        .select_related("quote__rate_plan")
        .order_by("-created_at", "-id")
        .first()
    )
    quote = change.quote if change is not None else policy.quote
    what_if, note = premium_what_if(quote=quote)
    breakdown = [
        {**step, "amount": Decimal(step["amount"]) if "amount" in step else None} for step in quote.breakdown or []
    ]
    return PremiumView(policy=policy, quote=quote, breakdown=breakdown, what_if=what_if, what_if_note=note)


# --- the dashboard --------------------------------------------------------------------------------


def driver_dashboard(*, driver_id: int) -> dict[str, Any]:
    """Everything the dashboard shows, in a fixed number of queries."""
    score = driver_latest_score(driver_id=driver_id)
    history = list(driver_score_history(driver_id=driver_id)[:HISTORY_POINTS])
    context: dict[str, Any] = {
        "score": score,
        "history": _history_points(history),
        "premium": driver_premium(driver_id=driver_id),
        "trip_count": Trip.objects.filter(driver_id=driver_id).count(),
    }
    if score is not None:
        mean = (score.model.model_card or {}).get("portfolio_mean_frequency")
        context.update(
            {
                # Reasons are {"feature", "effect", "text"} documents; older rows may hold plain strings.
                "reasons": [r.get("text", "") if isinstance(r, dict) else str(r) for r in score.reasons or []],
                "advice": score_advice(score=score),
                "portfolio_mean": float(mean) if mean is not None else None,
                "relative_percent": round((score.relative_risk - 1.0) * 100),
                "relative_percent_abs": abs(round((score.relative_risk - 1.0) * 100)),
            }
        )
    return context


# --- trips ----------------------------------------------------------------------------------------

TRIP_LIST_FIELDS = (
    "id",
    "driver_id",
    "started_at",
    "ended_at",
    "distance_km",
    "duration_s",
    "feature_status",
    "score",
    "harsh_brake_count",
    "harsh_accel_count",
    "harsh_corner_count",
    "speeding_count",
    "phone_use_s",
)


def driver_trip_list(*, driver_id: int) -> QuerySet[Trip]:
    """The driver's trips, newest first, without the samples or event documents."""
    return Trip.objects.filter(driver_id=driver_id).only(*TRIP_LIST_FIELDS).order_by("-started_at", "-id")


def driver_trip_get(*, driver_id: int, trip_id: int) -> Trip | None:
    """One of the driver's own trips (None for another driver's trip or no trip)."""
    return Trip.objects.filter(driver_id=driver_id, pk=trip_id).select_related("vehicle").first()


EVENT_LABELS = {
    "harsh_brake": "Harsh braking",
    "rapid_accel": "Harsh acceleration",
    "harsh_corner": "Harsh cornering",
    "speeding": "Speeding",
    "phone_use": "Phone use while moving",
}
DEDUCTION_LABELS = {**EVENT_LABELS, "night": "Night driving"}


def _event_time(value: Any) -> dt.datetime | None:
    try:
        return timezone.localtime(dt.datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return None


def trip_detail(*, trip: Trip) -> dict[str, Any]:
    """The trip's features in the units people read (km/h, minutes) and its events."""
    kmh = 3.6
    events = [
        {
            **event,
            "label": EVENT_LABELS.get(event.get("type"), event.get("type")),
            "at_local": _event_time(event.get("at")),
            "speed_kmh": round(float(event.get("speed_mps") or 0) * kmh),
            "speed_limit_kmh": round(float(event["speed_limit_mps"]) * kmh) if "speed_limit_mps" in event else None,
        }
        for event in trip.events or []
    ]
    deductions = [
        {**d, "label": DEDUCTION_LABELS.get(d.get("reason"), d.get("reason"))} for d in trip.score_deductions or []
    ]
    return {
        "trip": trip,
        "duration_min": round(trip.duration_s / 60),
        "moving_min": round(trip.moving_s / 60),
        "idle_min": round(trip.idle_s / 60),
        "max_speed_kmh": round(trip.max_speed_mps * kmh),
        "mean_speed_kmh": round(trip.mean_speed_mps * kmh),
        "speeding_min": round(trip.speeding_s / 60, 1),
        "phone_use_min": round(trip.phone_use_s / 60, 1),
        "night_min": round(trip.night_s / 60),
        "rush_hour_min": round(trip.rush_hour_s / 60),
        "highway_min": round(trip.highway_s / 60),
        "events": events,
        "deductions": deductions,
    }


def driver_notifications(*, driver_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(customer_id=driver_id).order_by("-created_at", "-id")


def driver_unread_count(*, driver_id: int) -> int:
    return Notification.objects.filter(customer_id=driver_id, read_at__isnull=True).count()
