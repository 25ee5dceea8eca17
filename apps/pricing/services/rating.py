"""Rating: the premium and its breakdown from plain values (no queries, no models read).

How a quote is computed (every step is written into `Quote.breakdown`):

1. base = RatePlan.base_premiums[category][region] (with "*" as fallback for either key);
2. traditional = max(minimum premium, base x experience factor x vehicle-age factor), where the
   experience factor is the one of the highest `min_years` <= whole years the driving licence has
   been held, and the vehicle-age factor likewise for the vehicle's age;
3. eligibility for telematics pricing: telematics consent in force, and at least
   `eligibility_min_trips` trips and `eligibility_min_km` km in the last `eligibility_window_days`
   days (from the driver's DriverFeatures row of that window when it is at most two days old,
   otherwise aggregated from Trip), and for PHYD a score of the active risk model;
   an ineligible quote is the traditional premium alone;
4. PHYD: telematics factor = relative_risk ** risk_elasticity (relative risk = the model's expected
   claim frequency over the portfolio mean). The curve is monotone increasing (a riskier driver
   never pays less), equals 1 at average risk, and is clamped to [1 - max_discount,
   1 + max_surcharge]; telematics premium = traditional x factor;
5. PAYD: telematics premium = traditional x payd_fixed_share + per_km_rate x annualised km
   (km in the window x 365 / window days), clamped to the same bounds around the traditional
   premium;
6. annual premium = max(minimum premium, telematics premium); per-day price for insurance sold
   with a single rental = annual / 365 x daily_loading.

Money is Decimal, rounded half-up to cents at every step; factors to 4 places. The quote inputs
(loaded by `quotes`) never hold the driver's protected attributes or contact or credit data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.common.exceptions import ApplicationError
from apps.pricing.models import PolicyKind

CENT = Decimal("0.01")
FACTOR = Decimal("0.0001")

Step = dict[str, Any]


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def factor(value: Decimal) -> Decimal:
    return value.quantize(FACTOR, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Tariff:
    """The numbers of a rate plan that rating reads, as plain values."""

    label: str
    base_premiums: dict
    experience_factors: list
    vehicle_age_factors: list
    per_km_rate: Decimal
    minimum_premium: Decimal
    max_discount: Decimal
    max_surcharge: Decimal
    eligibility_min_trips: int
    eligibility_min_km: int
    risk_elasticity: Decimal
    payd_fixed_share: Decimal
    daily_loading: Decimal

    @classmethod
    def of(cls, plan: Any) -> Tariff:
        """The tariff of a RatePlan (or anything with the same attributes)."""
        return cls(label=str(plan), **{f.name: getattr(plan, f.name) for f in fields(cls) if f.name != "label"})


def years_between(start: dt.date | None, end: dt.date) -> int:
    """Whole years from start to end (0 when start is unknown or later)."""
    if start is None or start > end:
        return 0
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def base_premium(tariff: Tariff, category: str, region: str) -> tuple[Decimal, str]:
    table = tariff.base_premiums or {}
    for cat_key in (category, "*"):
        by_region = table.get(cat_key) or {}
        for region_key in (region, "*"):
            if region_key in by_region:
                return Decimal(str(by_region[region_key])), f"{cat_key}/{region_key}"
    raise ApplicationError(
        f"Rate plan {tariff.label} has no base premium for category {category!r} in region {region!r}.",
        code="no_base_premium",
    )


def step_factor(table: list[dict], years: int) -> tuple[Decimal, int]:
    """(factor, band start) of the highest band whose min_years <= years; 1 when none applies."""
    chosen, chosen_min = Decimal("1"), 0
    for row in sorted(table or [], key=lambda r: int(r["min_years"])):
        if int(row["min_years"]) <= years:
            chosen, chosen_min = Decimal(str(row["factor"])), int(row["min_years"])
    return chosen, chosen_min


def telematics_factor_curve(
    *, relative_risk: float, elasticity: Decimal, max_discount: Decimal, max_surcharge: Decimal
) -> tuple[Decimal, Decimal]:
    """(raw factor, clamped factor) for a relative risk; see the module docstring."""
    rr = max(float(relative_risk), 1e-6)
    raw = factor(Decimal(repr(math.pow(rr, float(elasticity)))))
    clamped = min(max(raw, Decimal("1") - max_discount), Decimal("1") + max_surcharge)
    return raw, factor(clamped)


def eligibility_gaps(*, inputs: dict[str, Any], tariff: Tariff) -> list[str]:
    """Why telematics pricing does not apply, in words (empty when it does or cannot)."""
    kind = inputs["kind"]
    if kind == PolicyKind.TRADITIONAL:
        return []
    gaps = []
    if not inputs["telematics_consent"]:
        gaps.append("no telematics consent in force")
    if inputs["trips_in_window"] < tariff.eligibility_min_trips:
        gaps.append(
            f"{inputs['trips_in_window']} trips in {inputs['window_days']} days"
            f" (at least {tariff.eligibility_min_trips} needed)"
        )
    if inputs["km_in_window"] < tariff.eligibility_min_km:
        gaps.append(
            f"{inputs['km_in_window']} km in {inputs['window_days']} days (at least {tariff.eligibility_min_km} needed)"
        )
    if kind == PolicyKind.PHYD and inputs["risk_score"] is None:
        gaps.append("no score from the active risk model")
    return gaps


def eligibility_label(kind: str, eligible: bool, why_not: list[str]) -> str:
    if eligible:
        return "Telematics pricing applies"
    if kind == PolicyKind.TRADITIONAL:
        return "Traditional policy"
    return "Traditional premium only: " + "; ".join(why_not)


# --- the steps of a quote, each appending its line of the breakdown ---------------------------------


def _traditional_premium(inputs: dict[str, Any], tariff: Tariff, steps: list[Step]) -> Decimal:
    base, base_key = base_premium(tariff, inputs["vehicle_category"], inputs["region"])
    steps.append({"step": "base_premium", "label": f"Base annual premium ({base_key})", "amount": str(money(base))})
    exp_factor, exp_min = step_factor(tariff.experience_factors, inputs["licence_years"])
    steps.append(
        {
            "step": "experience_factor",
            "label": f"Driving licence held {inputs['licence_years']} years (band from {exp_min})",
            "factor": str(factor(exp_factor)),
        }
    )
    age_factor, age_min = step_factor(tariff.vehicle_age_factors, inputs["vehicle_age_years"])
    steps.append(
        {
            "step": "vehicle_age_factor",
            "label": f"Vehicle {inputs['vehicle_age_years']} years old (band from {age_min})",
            "factor": str(factor(age_factor)),
        }
    )
    raw = money(base * exp_factor * age_factor)
    traditional = max(raw, tariff.minimum_premium)
    steps.append(
        {
            "step": "traditional_premium",
            "label": "Base x experience x vehicle age"
            + (f", raised to the minimum premium {tariff.minimum_premium}" if traditional > raw else ""),
            "amount": str(traditional),
        }
    )
    return traditional


def _eligibility(inputs: dict[str, Any], tariff: Tariff, steps: list[Step]) -> bool:
    kind = inputs["kind"]
    why_not = eligibility_gaps(inputs=inputs, tariff=tariff)
    eligible = kind != PolicyKind.TRADITIONAL and not why_not
    steps.append(
        {
            "step": "eligibility",
            "label": eligibility_label(kind, eligible, why_not),
            "eligible": eligible,
            "trips_in_window": inputs["trips_in_window"],
            "km_in_window": inputs["km_in_window"],
        }
    )
    return eligible


def _phyd_premium(inputs: dict[str, Any], tariff: Tariff, traditional: Decimal, steps: list[Step]):
    """(telematics premium, factor): the traditional premium times the clamped risk curve."""
    relative_risk = inputs["risk_score"]["relative_risk"]
    raw, clamped = telematics_factor_curve(
        relative_risk=relative_risk,
        elasticity=tariff.risk_elasticity,
        max_discount=tariff.max_discount,
        max_surcharge=tariff.max_surcharge,
    )
    steps.append(
        {
            "step": "telematics_factor",
            "label": f"Relative risk {relative_risk} ^ {tariff.risk_elasticity} = {raw}"
            + (f", clamped to {clamped}" if raw != clamped else "")
            + f" (bounds {factor(1 - tariff.max_discount)}..{factor(1 + tariff.max_surcharge)})",
            "relative_risk": relative_risk,
            "factor": str(clamped),
        }
    )
    return money(traditional * clamped), clamped


def _payd_premium(inputs: dict[str, Any], tariff: Tariff, traditional: Decimal, steps: list[Step]):
    """(telematics premium, factor, per-km part): a fixed share plus the annualised kilometres,
    kept within the plan's bounds around the traditional premium."""
    annual_km = Decimal(str(inputs["km_in_window"])) * Decimal(365) / Decimal(inputs["window_days"])
    payd_part = money(tariff.per_km_rate * annual_km)
    fixed = money(traditional * tariff.payd_fixed_share)
    steps.append(
        {
            "step": "payd_part",
            "label": f"{money(annual_km)} km a year x {tariff.per_km_rate} per km"
            f" + fixed part {tariff.payd_fixed_share} x traditional ({fixed})",
            "annualised_km": str(money(annual_km)),
            "amount": str(payd_part),
        }
    )
    lower = money(traditional * (Decimal("1") - tariff.max_discount))
    upper = money(traditional * (Decimal("1") + tariff.max_surcharge))
    unclamped = fixed + payd_part
    telematics = min(max(unclamped, lower), upper)
    if telematics != unclamped:
        steps.append(
            {
                "step": "bounds",
                "label": f"Clamped from {unclamped} to the bounds {lower}..{upper}",
                "amount": str(telematics),
            }
        )
    ratio = factor(telematics / traditional) if traditional else Decimal("1")
    return telematics, ratio, payd_part


def _annual_and_daily(tariff: Tariff, traditional: Decimal, telematics: Decimal, steps: list[Step]):
    """(annual premium, discount, per-day price)."""
    steps.append({"step": "telematics_premium", "label": "Premium after telematics", "amount": str(telematics)})
    discount = traditional - telematics
    annual = max(telematics, tariff.minimum_premium)
    steps.append(
        {
            "step": "annual_premium",
            "label": "Annual premium"
            + (f" (raised to the minimum premium {tariff.minimum_premium})" if annual > telematics else "")
            + (f"; discount {discount}" if discount > 0 else (f"; surcharge {-discount}" if discount < 0 else "")),
            "amount": str(annual),
        }
    )
    daily = money(annual / Decimal(365) * tariff.daily_loading)
    steps.append(
        {
            "step": "daily_price",
            "label": f"Per rental day: annual / 365 x loading {tariff.daily_loading}",
            "amount": str(daily),
        }
    )
    return annual, discount, daily


def quote_compute(*, inputs: dict[str, Any], tariff: Tariff) -> dict[str, Any]:
    """The prices and their breakdown for one set of quote inputs (see the module docstring)."""
    steps: list[Step] = []
    traditional = _traditional_premium(inputs, tariff, steps)
    eligible = _eligibility(inputs, tariff, steps)
    telematics, ratio, per_km_rate, payd_part = traditional, Decimal("1"), Decimal("0"), Decimal("0")
    if eligible and inputs["kind"] == PolicyKind.PHYD:
        telematics, ratio = _phyd_premium(inputs, tariff, traditional, steps)
    elif eligible and inputs["kind"] == PolicyKind.PAYD:
        telematics, ratio, payd_part = _payd_premium(inputs, tariff, traditional, steps)
        per_km_rate = tariff.per_km_rate
    annual, discount, daily = _annual_and_daily(tariff, traditional, telematics, steps)
    return {
        "traditional_premium": traditional,
        "telematics_factor": ratio if ratio > 0 else Decimal("1"),
        "telematics_premium": telematics,
        "discount": discount,
        "per_km_rate": per_km_rate,
        "payd_part": payd_part,
        "annual_premium": annual,
        "daily_price": daily,
        "breakdown": steps,
        "eligible": eligible,
    }
