"""The driver's premium and what moves it, with advice that matches the policy kind. Every figure
is priced by the pricing code itself (`quote_compute` on the quote's own inputs and rate plan)
with one input changed, never by a factor of our own:

- pay how you drive (PHYD): the premium at better safety scores, and what each habit that raises
  the driver's expected claims adds to the premium (priced without that habit's contribution);
- pay as you drive (PAYD): what 1,000 km less a year would save;
- traditional: what the two telematics kinds would cost the driver if they opted in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.pricing.models import Policy, PolicyKind, PremiumChange, Quote
from apps.pricing.services import Tariff, quote_compute
from apps.pricing.services.rating import eligibility_gaps
from apps.risk.models import RiskScore
from apps.risk.scale import relative_risk_for_safety_score

# What-if premiums are priced at these safety scores (those better than the driver's own).
WHAT_IF_SCORES = (70, 80, 90)
# PAYD advice: the effect of this many kilometres less a year.
KM_LESS = 1000
KIND_WORDS = {
    PolicyKind.PHYD: "Pay how you drive",
    PolicyKind.PAYD: "Pay as you drive",
    PolicyKind.TRADITIONAL: "Traditional",
}


@dataclass(frozen=True)
class PremiumView:
    policy: Policy
    quote: Quote
    breakdown: list[dict[str, Any]]
    eligible: bool
    why_not: list[str]
    what_if: list[dict[str, Any]] = field(default_factory=list)
    what_if_note: str = ""
    habit_costs: list[dict[str, Any]] = field(default_factory=list)
    mileage: dict[str, Any] | None = None
    offers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def surcharge(self) -> Decimal:
        """The telematics surcharge as a positive amount (0 when it is a discount)."""
        return max(-self.quote.discount, Decimal("0"))

    @property
    def kind_words(self) -> str:
        return KIND_WORDS.get(self.policy.kind, self.policy.get_kind_display())


def _step_words(step: dict[str, Any]) -> str:
    """A breakdown step in the driver's words (pricing's own labels are for the back office)."""
    code = step.get("step")
    if code == "base_premium":
        return "Base premium for the vehicle class and region"
    if code == "telematics_factor":
        return f"Your driving: a risk {float(step['relative_risk']):.2f} times the average"
    if code == "payd_part":
        return f"Distance: about {float(step['annualised_km']):,.0f} km a year"
    return STEP_WORDS.get(code, step.get("label", ""))


STEP_WORDS = {
    "traditional_premium": "Traditional premium",
    "bounds": "Held within the plan's limits",
    "telematics_premium": "Premium after telematics",
    "annual_premium": "Annual premium",
    "daily_price": "Per rental day, when bought with a single rental",
}


def _reprice(quote: Quote, **changes: Any) -> dict[str, Any]:
    return quote_compute(inputs={**(quote.inputs or {}), **changes}, tariff=Tariff.of(quote.rate_plan))


def _eligible(quote: Quote) -> bool:
    step = next((s for s in quote.breakdown or [] if s.get("step") == "eligibility"), None)
    return bool(step and step.get("eligible"))


def _score_input(score: RiskScore, relative_risk: float | None = None) -> dict[str, Any]:
    """A score as quote inputs hold it (see pricing's _load_inputs)."""
    return {
        "id": score.pk,
        "model_version": score.model.version,
        "as_of": score.as_of.isoformat(),
        "relative_risk": round(float(score.relative_risk if relative_risk is None else relative_risk), 6),
        "safety_score": score.safety_score,
        "band": score.band,
    }


def premium_what_if(*, quote: Quote) -> tuple[list[dict[str, Any]], str]:
    """The annual premium this quote would have at better safety scores, priced by the pricing
    code itself (quote_compute on the quote's own inputs and rate plan, only the relative risk
    changed). Only for an eligible pay-how-you-drive quote: other premiums do not depend on the
    score. Returns (rows, why there are none)."""
    inputs = quote.inputs or {}
    score = inputs.get("risk_score")
    if quote.kind != PolicyKind.PHYD:
        return [], "Your policy is not priced on how you drive, so a better score does not change it."
    if not score or not _eligible(quote):
        return [], "Your premium is the traditional one for now, so a better score does not change it yet."
    current = int(score["safety_score"])
    rows = []
    for target in WHAT_IF_SCORES:
        if target <= current:
            continue
        relative = round(relative_risk_for_safety_score(target), 6)
        priced = _reprice(quote, risk_score={**score, "relative_risk": relative, "safety_score": target})
        rows.append(
            {
                "safety_score": target,
                "relative_risk": relative,
                "annual_premium": priced["annual_premium"],
                "saving": quote.annual_premium - priced["annual_premium"],
            }
        )
    return rows, "" if rows else "Your score is already at the top of the range we price."


def phyd_habit_costs(*, quote: Quote, score: RiskScore | None, advice: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each habit in `advice` (positive SHAP contributions of the driver's latest score) adds
    to this PHYD premium: the quote priced at the score's relative risk, against the same quote
    priced with that habit's contribution taken out (relative risk / exp(contribution)). Habits
    whose removal would not move the premium (the plan's bounds) are left out."""
    if score is None or quote.kind != PolicyKind.PHYD or not _eligible(quote):
        return []
    contributions = score.contributions or {}
    now = _reprice(quote, risk_score=_score_input(score))["annual_premium"]
    out = []
    for item in advice:
        contribution = float(contributions.get(item["feature"], 0.0))
        without = _reprice(quote, risk_score=_score_input(score, score.relative_risk / math.exp(contribution)))
        cost = now - without["annual_premium"]
        if cost > 0:
            out.append({**item, "cost": cost, "premium_without": without["annual_premium"]})
    out.sort(key=lambda a: (-a["cost"], a["feature"]))
    return out


def payd_mileage(*, quote: Quote) -> dict[str, Any] | None:
    """For an eligible PAYD quote: the annual kilometres it is priced on and what KM_LESS km a year
    less would cost, priced by the plan (which may hold the premium at its bounds)."""
    inputs = quote.inputs or {}
    if quote.kind != PolicyKind.PAYD or not _eligible(quote) or not inputs.get("window_days"):
        return None
    window = int(inputs["window_days"])
    annual_km = float(inputs["km_in_window"]) * 365 / window
    fewer_km = max(annual_km - KM_LESS, 0.0)
    priced = _reprice(quote, km_in_window=round(fewer_km * window / 365, 1))
    return {
        "annual_km": round(annual_km),
        "fewer_km": round(fewer_km),
        "km_less": KM_LESS,
        "per_km_rate": quote.per_km_rate,
        "annual_premium": priced["annual_premium"],
        "saving": quote.annual_premium - priced["annual_premium"],
        "still_eligible": priced["eligible"],
        "why_not": eligibility_gaps(inputs={**inputs, "km_in_window": round(fewer_km * window / 365, 1)},
                                    tariff=Tariff.of(quote.rate_plan)),
    }  # fmt: skip


def telematics_offers(*, quote: Quote, score: RiskScore | None) -> list[dict[str, Any]]:
    """For a traditional policy: what PHYD and PAYD would cost on the same inputs and rate plan
    if the driver opted in (telematics consent given), with the driver's latest score; each row
    says why it would not apply yet when it would not."""
    if quote.kind != PolicyKind.TRADITIONAL:
        return []
    tariff = Tariff.of(quote.rate_plan)
    out = []
    for kind in (PolicyKind.PHYD, PolicyKind.PAYD):
        changes = {
            "kind": kind,
            "telematics_consent": True,
            "risk_score": _score_input(score) if score is not None else None,
        }
        priced = _reprice(quote, **changes)
        out.append(
            {
                "kind": kind,
                "words": KIND_WORDS[kind],
                "annual_premium": priced["annual_premium"],
                "saving": quote.annual_premium - priced["annual_premium"],
                "difference": abs(quote.annual_premium - priced["annual_premium"]),
                "eligible": priced["eligible"],
                "why_not": eligibility_gaps(inputs={**(quote.inputs or {}), **changes}, tariff=tariff),
            }
        )
    return out


def driver_premium(
    *, driver_id: int, score: RiskScore | None = None, advice: list[dict[str, Any]] | None = None
) -> PremiumView | None:
    """The driver's active policy (the most recently bound), the quote it is priced on now (the
    latest requote that moved it, else the bound quote) and the advice for its kind."""
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
        {
            **step,
            "words": _step_words(step),
            "amount": Decimal(step["amount"]) if "amount" in step else None,
            "factor": Decimal(step["factor"]) if "factor" in step else None,
        }
        for step in quote.breakdown or []
    ]
    inputs = quote.inputs or {}
    why_not = eligibility_gaps(inputs=inputs, tariff=Tariff.of(quote.rate_plan)) if "kind" in inputs else []
    return PremiumView(
        policy=policy,
        quote=quote,
        breakdown=breakdown,
        eligible=_eligible(quote),
        why_not=why_not,
        what_if=what_if,
        what_if_note=note,
        habit_costs=phyd_habit_costs(quote=quote, score=score, advice=advice or []),
        mileage=payd_mileage(quote=quote),
        offers=telematics_offers(quote=quote, score=score),
    )
