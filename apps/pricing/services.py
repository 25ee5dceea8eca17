"""Pricing: quotes, rate-plan versions, policy binding and requoting after a score change.

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

Money is Decimal, rounded half-up to cents at every step; factors to 4 places. The driver's
protected attributes (gender, birth year) and contact or credit data are never read: the only
customer column loaded is `licence_since`.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from apps.accounts.models import Partner
from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer, TelematicsConsent
from apps.fleet.models import Vehicle, VehicleCategory
from apps.pricing.models import PartnerJob, Policy, PolicyKind, PremiumChange, Quote, RatePlan
from apps.regions.models import Region
from apps.risk.models import RiskScore
from apps.telematics.models import DriverFeatures, Trip

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
FACTOR = Decimal("0.0001")
DEFAULT_PLAN = "standard"
FEATURES_MAX_AGE_DAYS = 2
REQUOTE_CHUNK = 500


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _factor(value: Decimal) -> Decimal:
    return value.quantize(FACTOR, rounding=ROUND_HALF_UP)


# --- rate plans -----------------------------------------------------------------------------------


def rate_plan_in_force(*, on: dt.date, name: str = DEFAULT_PLAN) -> RatePlan:
    """The highest version of the plan whose period covers the day."""
    plan = (
        RatePlan.objects.filter(name=name, effective_from__lte=on)
        .exclude(effective_to__lte=on)
        .order_by("-version")
        .first()
    )
    if plan is None:
        raise ApplicationError(f"No rate plan {name!r} is in force on {on}.", code="no_rate_plan")
    return plan


@transaction.atomic
def rate_plan_new_version(*, plan: RatePlan, effective_from: dt.date | None = None) -> RatePlan:
    """Copies a plan into the next version (editable until it takes effect, tomorrow by default).

    The old version is not touched: the newest version whose period has started wins."""
    effective_from = effective_from or timezone.localdate() + dt.timedelta(days=1)
    if effective_from <= timezone.localdate():
        raise ApplicationError("A new version must take effect in the future.", code="invalid_date")
    # Lock the plan family so two admins cannot create the same version number.
    list(RatePlan.objects.select_for_update().filter(name=plan.name).order_by("pk").values_list("pk", flat=True))
    latest = RatePlan.objects.filter(name=plan.name).aggregate(v=Max("version"))["v"] or 0
    return RatePlan.objects.create(
        name=plan.name,
        version=latest + 1,
        effective_from=effective_from,
        effective_to=None,
        currency=plan.currency,
        base_premiums=copy.deepcopy(plan.base_premiums),
        experience_factors=copy.deepcopy(plan.experience_factors),
        vehicle_age_factors=copy.deepcopy(plan.vehicle_age_factors),
        per_km_rate=plan.per_km_rate,
        minimum_premium=plan.minimum_premium,
        max_discount=plan.max_discount,
        max_surcharge=plan.max_surcharge,
        eligibility_min_trips=plan.eligibility_min_trips,
        eligibility_min_km=plan.eligibility_min_km,
        eligibility_window_days=plan.eligibility_window_days,
        risk_elasticity=plan.risk_elasticity,
        payd_fixed_share=plan.payd_fixed_share,
        daily_loading=plan.daily_loading,
        quote_valid_days=plan.quote_valid_days,
    )


def rate_plan_validate(*, plan: RatePlan) -> None:
    """Shape checks of the JSON parts (the admin form calls this before saving a future version)."""
    errors: dict[str, str] = {}
    if not isinstance(plan.base_premiums, dict) or not plan.base_premiums:
        errors["base_premiums"] = 'An object {"<category>": {"<region>": "<amount>"}} with "*" fallbacks.'
    else:
        for cat, by_region in plan.base_premiums.items():
            if not isinstance(by_region, dict) or not by_region:
                errors["base_premiums"] = f"{cat!r} must map region codes to amounts."
                break
            for amount in by_region.values():
                try:
                    ok = Decimal(str(amount)) >= 0
                except ArithmeticError:
                    ok = False
                if not ok:
                    errors["base_premiums"] = f"{cat!r} has an amount that is not a non-negative number."
                    break
    for field in ("experience_factors", "vehicle_age_factors"):
        table = getattr(plan, field)
        try:
            ok = (
                isinstance(table, list)
                and table
                and all(int(r["min_years"]) >= 0 and Decimal(str(r["factor"])) > 0 for r in table)
                and any(int(r["min_years"]) == 0 for r in table)
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            ok = False
        if not ok:
            errors[field] = 'A list of {"min_years": n, "factor": "x"} with a row for 0 years and factors > 0.'
    if errors:
        raise ApplicationError("The rate plan is not valid.", code="invalid_rate_plan", extra={"errors": errors})


def _base_premium(plan: RatePlan, category: str, region: str) -> tuple[Decimal, str]:
    table = plan.base_premiums or {}
    for cat_key in (category, "*"):
        by_region = table.get(cat_key) or {}
        for region_key in (region, "*"):
            if region_key in by_region:
                return Decimal(str(by_region[region_key])), f"{cat_key}/{region_key}"
    raise ApplicationError(
        f"Rate plan {plan} has no base premium for category {category!r} in region {region!r}.",
        code="no_base_premium",
    )


def _step_factor(table: list[dict], years: int) -> tuple[Decimal, int]:
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
    raw = _factor(Decimal(repr(math.pow(rr, float(elasticity)))))
    clamped = min(max(raw, Decimal("1") - max_discount), Decimal("1") + max_surcharge)
    return raw, _factor(clamped)


# --- quote inputs, loaded in bulk -----------------------------------------------------------------


@dataclass(frozen=True)
class QuoteRequest:
    driver_id: int
    vehicle_category_id: int
    region_id: int
    kind: str
    partner_id: int | None = None
    vehicle_age_years: int = 0


PLAN_PRICING_FIELDS = (
    "currency",
    "base_premiums",
    "experience_factors",
    "vehicle_age_factors",
    "per_km_rate",
    "minimum_premium",
    "max_discount",
    "max_surcharge",
    "eligibility_min_trips",
    "eligibility_min_km",
    "eligibility_window_days",
    "risk_elasticity",
    "payd_fixed_share",
    "daily_loading",
    "quote_valid_days",
)


def _plan_fingerprint(plan: RatePlan) -> str:
    """Part of the quote inputs, so a quote is never reused across any change of the plan's numbers."""
    content = json.dumps({f: getattr(plan, f) for f in PLAN_PRICING_FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _years_between(start: dt.date | None, end: dt.date) -> int:
    if start is None or start > end:
        return 0
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _load_inputs(requests: list[QuoteRequest], *, plan: RatePlan, as_of: dt.date) -> list[dict[str, Any]]:
    """Everything each quote depends on, in a fixed number of queries for any number of requests."""
    driver_ids = sorted({r.driver_id for r in requests})
    # Only licence_since: never gender, birth year, income or any other protected or personal field.
    licence = dict(Customer.objects.filter(pk__in=driver_ids).values_list("pk", "licence_since"))
    missing = [d for d in driver_ids if d not in licence]
    if missing:
        raise ApplicationError("Unknown driver.", code="not_found", extra={"driver_ids": missing[:20]})
    categories = dict(
        VehicleCategory.objects.filter(pk__in={r.vehicle_category_id for r in requests}).values_list("pk", "code")
    )
    regions = dict(Region.objects.filter(pk__in={r.region_id for r in requests}).values_list("pk", "code"))
    consent = set(
        TelematicsConsent.objects.filter(customer_id__in=driver_ids, withdrawn_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )
    scores = {
        s.driver_id: s
        for s in RiskScore.objects.filter(driver_id__in=driver_ids, model__is_active=True, as_of__lte=as_of)
        .select_related("model")
        .only(
            "id",
            "driver_id",
            "as_of",
            "relative_risk",
            "safety_score",
            "band",
            "reasons",
            "contributions",
            "created_at",
            "model__version",
        )
        .order_by("driver_id", "-as_of", "-created_at")
        .distinct("driver_id")
    }
    window = plan.eligibility_window_days
    mileage: dict[int, tuple[int, float, str]] = {}
    for row in (
        DriverFeatures.objects.filter(
            driver_id__in=driver_ids,
            window_days=window,
            as_of__lte=as_of,
            as_of__gte=as_of - dt.timedelta(days=FEATURES_MAX_AGE_DAYS),
        )
        .order_by("driver_id", "-as_of")
        .distinct("driver_id")
        .values("driver_id", "trips", "km", "as_of")
    ):
        mileage[row["driver_id"]] = (row["trips"], float(row["km"]), f"driver_features as of {row['as_of']}")
    without = [d for d in driver_ids if d not in mileage]
    if without:
        end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
        start = end - dt.timedelta(days=window)
        agg = {
            row["driver_id"]: row
            for row in Trip.objects.filter(driver_id__in=without, started_at__gte=start, started_at__lt=end)
            .values("driver_id")
            .annotate(n=Count("id"), km=Sum("distance_km"))
        }
        for d in without:
            row = agg.get(d)
            mileage[d] = (row["n"] if row else 0, float(row["km"] or 0) if row else 0.0, "trips")

    out = []
    for r in requests:
        if r.vehicle_category_id not in categories:
            raise ApplicationError("Unknown vehicle category.", code="invalid", extra={"field": "vehicle_category"})
        if r.region_id not in regions:
            raise ApplicationError("Unknown region.", code="invalid", extra={"field": "region"})
        score = scores.get(r.driver_id)
        trips, km, source = mileage[r.driver_id]
        out.append(
            {
                "driver_id": r.driver_id,
                "partner_id": r.partner_id,
                "kind": r.kind,
                "as_of": as_of.isoformat(),
                "vehicle_category_id": r.vehicle_category_id,
                "vehicle_category": categories[r.vehicle_category_id],
                "region_id": r.region_id,
                "region": regions[r.region_id],
                "vehicle_age_years": r.vehicle_age_years,
                "licence_years": _years_between(licence[r.driver_id], as_of),
                "rate_plan": {
                    "id": plan.pk,
                    "name": plan.name,
                    "version": plan.version,
                    "fingerprint": _plan_fingerprint(plan),
                },
                "telematics_consent": r.driver_id in consent,
                "window_days": window,
                "trips_in_window": int(trips),
                "km_in_window": round(km, 1),
                "mileage_source": source,
                "risk_score": None
                if score is None
                else {
                    "id": score.pk,
                    "model_version": score.model.version,
                    "as_of": score.as_of.isoformat(),
                    "relative_risk": round(float(score.relative_risk), 6),
                    "safety_score": score.safety_score,
                    "band": score.band,
                },
                "_score": score,
            }
        )
    return out


def _public_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if not k.startswith("_")}


def quote_inputs_hash(inputs: dict[str, Any]) -> str:
    canonical = json.dumps(_public_inputs(inputs), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reasons(score: RiskScore | None, limit: int = 3) -> list[dict[str, Any]]:
    """The score's top reasons: risk's own plain-words reasons when present (already ranked by
    SHAP), else the largest SHAP contributions."""
    if score is None:
        return []
    if score.reasons:
        return [r if isinstance(r, dict) else {"text": str(r)} for r in score.reasons[:limit]]
    ranked = sorted((score.contributions or {}).items(), key=lambda kv: (-abs(float(kv[1])), kv[0]))[:limit]
    return [
        {
            "feature": feature,
            "contribution": round(float(value), 6),
            "direction": "raises premium" if float(value) > 0 else "lowers premium",
        }
        for feature, value in ranked
    ]


def _eligibility_label(kind: str, eligible: bool, why_not: list[str]) -> str:
    if eligible:
        return "Telematics pricing applies"
    if kind == PolicyKind.TRADITIONAL:
        return "Traditional policy"
    return "Traditional premium only: " + "; ".join(why_not)


def quote_compute(*, inputs: dict[str, Any], plan: RatePlan) -> dict[str, Any]:
    """The prices and their breakdown for one set of inputs (pure: no queries)."""
    steps: list[dict[str, Any]] = []
    base, base_key = _base_premium(plan, inputs["vehicle_category"], inputs["region"])
    steps.append({"step": "base_premium", "label": f"Base annual premium ({base_key})", "amount": str(_money(base))})
    exp_factor, exp_min = _step_factor(plan.experience_factors, inputs["licence_years"])
    steps.append(
        {
            "step": "experience_factor",
            "label": f"Driving licence held {inputs['licence_years']} years (band from {exp_min})",
            "factor": str(_factor(exp_factor)),
        }
    )
    age_factor, age_min = _step_factor(plan.vehicle_age_factors, inputs["vehicle_age_years"])
    steps.append(
        {
            "step": "vehicle_age_factor",
            "label": f"Vehicle {inputs['vehicle_age_years']} years old (band from {age_min})",
            "factor": str(_factor(age_factor)),
        }
    )
    raw_traditional = _money(base * exp_factor * age_factor)
    traditional = max(raw_traditional, plan.minimum_premium)
    steps.append(
        {
            "step": "traditional_premium",
            "label": "Base x experience x vehicle age"
            + (f", raised to the minimum premium {plan.minimum_premium}" if traditional > raw_traditional else ""),
            "amount": str(traditional),
        }
    )
    kind = inputs["kind"]
    score = inputs["risk_score"]
    why_not = []
    if kind != PolicyKind.TRADITIONAL:
        if not inputs["telematics_consent"]:
            why_not.append("no telematics consent in force")
        if inputs["trips_in_window"] < plan.eligibility_min_trips:
            why_not.append(
                f"{inputs['trips_in_window']} trips in {inputs['window_days']} days"
                f" (at least {plan.eligibility_min_trips} needed)"
            )
        if inputs["km_in_window"] < plan.eligibility_min_km:
            why_not.append(
                f"{inputs['km_in_window']} km in {inputs['window_days']} days"
                f" (at least {plan.eligibility_min_km} needed)"
            )
        if kind == PolicyKind.PHYD and score is None:
            why_not.append("no score from the active risk model")
    eligible = kind != PolicyKind.TRADITIONAL and not why_not
    steps.append(
        {
            "step": "eligibility",
            "label": "Telematics pricing applies"
            if eligible
            else (
                "Traditional policy"
                if kind == PolicyKind.TRADITIONAL
                else "Traditional premium only: " + "; ".join(why_not)
            ),
            "eligible": eligible,
            "trips_in_window": inputs["trips_in_window"],
            "km_in_window": inputs["km_in_window"],
        }
    )
    factor = Decimal("1")
    per_km_rate = Decimal("0")
    payd_part = Decimal("0")
    telematics = traditional
    lower = _money(traditional * (Decimal("1") - plan.max_discount))
    upper = _money(traditional * (Decimal("1") + plan.max_surcharge))
    if eligible and kind == PolicyKind.PHYD:
        raw, factor = telematics_factor_curve(
            relative_risk=score["relative_risk"],
            elasticity=plan.risk_elasticity,
            max_discount=plan.max_discount,
            max_surcharge=plan.max_surcharge,
        )
        steps.append(
            {
                "step": "telematics_factor",
                "label": f"Relative risk {score['relative_risk']} ^ {plan.risk_elasticity} = {raw}"
                + (f", clamped to {factor}" if raw != factor else "")
                + f" (bounds {_factor(1 - plan.max_discount)}..{_factor(1 + plan.max_surcharge)})",
                "relative_risk": score["relative_risk"],
                "factor": str(factor),
            }
        )
        telematics = _money(traditional * factor)
    elif eligible and kind == PolicyKind.PAYD:
        annual_km = Decimal(str(inputs["km_in_window"])) * Decimal(365) / Decimal(inputs["window_days"])
        per_km_rate = plan.per_km_rate
        payd_part = _money(per_km_rate * annual_km)
        fixed = _money(traditional * plan.payd_fixed_share)
        steps.append(
            {
                "step": "payd_part",
                "label": f"{_money(annual_km)} km a year x {per_km_rate} per km"
                f" + fixed part {plan.payd_fixed_share} x traditional ({fixed})",
                "annualised_km": str(_money(annual_km)),
                "amount": str(payd_part),
            }
        )
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
        factor = _factor(telematics / traditional) if traditional else Decimal("1")
    steps.append({"step": "telematics_premium", "label": "Premium after telematics", "amount": str(telematics)})
    discount = traditional - telematics
    annual = max(telematics, plan.minimum_premium)
    steps.append(
        {
            "step": "annual_premium",
            "label": "Annual premium"
            + (f" (raised to the minimum premium {plan.minimum_premium})" if annual > telematics else "")
            + (f"; discount {discount}" if discount > 0 else (f"; surcharge {-discount}" if discount < 0 else "")),
            "amount": str(annual),
        }
    )
    daily = _money(annual / Decimal(365) * plan.daily_loading)
    steps.append(
        {
            "step": "daily_price",
            "label": f"Per rental day: annual / 365 x loading {plan.daily_loading}",
            "amount": str(daily),
        }
    )
    return {
        "traditional_premium": traditional,
        "telematics_factor": factor if factor > 0 else Decimal("1"),
        "telematics_premium": telematics,
        "discount": discount,
        "per_km_rate": per_km_rate,
        "payd_part": payd_part,
        "annual_premium": annual,
        "daily_price": daily,
        "breakdown": steps,
        "eligible": eligible,
    }


def _quote_build(inputs: dict[str, Any], plan: RatePlan, now: dt.datetime) -> Quote:
    prices = quote_compute(inputs=inputs, plan=plan)
    score = inputs["_score"]
    return Quote(
        driver_id=inputs["driver_id"],
        partner_id=inputs["partner_id"],
        rate_plan_id=plan.pk,
        risk_score_id=score.pk if score is not None else None,
        vehicle_category_id=inputs["vehicle_category_id"],
        region_id=inputs["region_id"],
        kind=inputs["kind"],
        currency=plan.currency,
        traditional_premium=prices["traditional_premium"],
        telematics_factor=prices["telematics_factor"],
        telematics_premium=prices["telematics_premium"],
        discount=prices["discount"],
        per_km_rate=prices["per_km_rate"],
        payd_part=prices["payd_part"],
        annual_premium=prices["annual_premium"],
        daily_price=prices["daily_price"],
        inputs=_public_inputs(inputs),
        inputs_hash=quote_inputs_hash(inputs),
        breakdown=prices["breakdown"],
        reasons=_reasons(score) if prices["eligible"] and inputs["kind"] == PolicyKind.PHYD else [],
        created_at=now,
        valid_until=now + dt.timedelta(days=plan.quote_valid_days),
    )


def _quotes_for(
    requests: list[QuoteRequest], *, as_of: dt.date | None = None, reuse_bound: bool = False
) -> list[Quote]:
    """Quotes for many requests; a request whose inputs match a still-valid quote gets that quote
    (for new business only a quote no policy is bound to; a requote may point at a bound one)."""
    now = timezone.now()
    as_of = as_of or timezone.localdate()
    plan = rate_plan_in_force(on=as_of)
    inputs = _load_inputs(requests, plan=plan, as_of=as_of)
    hashes = [quote_inputs_hash(i) for i in inputs]
    existing: dict[str, Quote] = {}
    candidates = Quote.objects.filter(inputs_hash__in=set(hashes), valid_until__gt=now)
    if not reuse_bound:
        candidates = candidates.filter(policy__isnull=True)
    for q in candidates.order_by("created_at"):
        q.reused = True
        existing.setdefault(q.inputs_hash, q)
    fresh: dict[str, Quote] = {}
    result = []
    for h, i in zip(hashes, inputs, strict=True):
        quote = existing.get(h) or fresh.get(h)
        if quote is None:
            quote = fresh[h] = _quote_build(i, plan, now)
        result.append(quote)
    if fresh:
        Quote.objects.bulk_create(list(fresh.values()), batch_size=500)
    return result


@transaction.atomic
def quote_create(
    *,
    driver: Customer | int,
    vehicle_category: VehicleCategory,
    region: Region,
    kind: str = PolicyKind.PHYD,
    partner: Partner | None = None,
    vehicle: Vehicle | None = None,
    vehicle_age_years: int | None = None,
    as_of: dt.date | None = None,
) -> Quote:
    """A quote for one driver (see the module docstring). The same inputs give the same quote:
    while a quote with the same inputs is valid it is returned instead of a new one."""
    if kind not in PolicyKind.values:
        raise ApplicationError(f"Unknown policy kind {kind!r}.", code="invalid", extra={"field": "kind"})
    as_of = as_of or timezone.localdate()
    if vehicle is not None:
        vehicle_age_years = max(0, as_of.year - vehicle.model_year)
    if vehicle_age_years is None:
        vehicle_age_years = 0
    if not 0 <= int(vehicle_age_years) <= 60:
        raise ApplicationError(
            "Vehicle age must be 0 to 60 years.", code="invalid", extra={"field": "vehicle_age_years"}
        )
    request = QuoteRequest(
        driver_id=driver if isinstance(driver, int) else driver.pk,
        vehicle_category_id=vehicle_category.pk,
        region_id=region.pk,
        kind=kind,
        partner_id=partner.pk if partner else None,
        vehicle_age_years=int(vehicle_age_years),
    )
    return _quotes_for([request], as_of=as_of)[0]


# --- policies -------------------------------------------------------------------------------------


def _policy_event(policy: Policy, event: str) -> dict[str, Any]:
    return {
        "event": event,
        "policy_id": policy.pk,
        "driver_id": policy.driver_id,
        "status": policy.status,
        "kind": policy.kind,
        "annual_premium": str(policy.annual_premium),
        "quote_id": policy.quote_id,
    }


@transaction.atomic
def policy_bind(*, quote: Quote, partner: Partner, starts_on: dt.date | None = None) -> Policy:
    """Binds a partner's valid quote into an active one-year policy."""
    from apps.accounts.webhooks import webhook_events_enqueue

    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if quote.partner_id != partner.pk:
        raise ApplicationError("Quote not found.", code="not_found")
    if quote.valid_until <= timezone.now():
        raise ApplicationError("The quote has expired; ask for a new one.", code="quote_expired")
    if Policy.objects.filter(quote=quote).exists():
        raise ApplicationError("This quote is already bound.", code="quote_already_bound")
    if Policy.objects.filter(driver_id=quote.driver_id, partner=partner, status=Policy.Status.ACTIVE).exists():
        raise ApplicationError(
            "This driver already has an active policy with this partner; cancel it first.", code="policy_exists"
        )
    today = timezone.localdate()
    starts_on = starts_on or today
    if starts_on < today or starts_on > today + dt.timedelta(days=90):
        raise ApplicationError("A policy starts today or within 90 days.", code="invalid", extra={"field": "starts_on"})
    try:
        ends_on = starts_on.replace(year=starts_on.year + 1) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        ends_on = starts_on + dt.timedelta(days=364)
    policy = Policy.objects.create(
        driver_id=quote.driver_id,
        partner=partner,
        quote=quote,
        kind=quote.kind,
        starts_on=starts_on,
        ends_on=ends_on,
        annual_premium=quote.annual_premium,
    )
    PremiumChange.objects.create(
        policy=policy,
        driver_id=policy.driver_id,
        partner=partner,
        quote=quote,
        reason=PremiumChange.Reason.BOUND,
        previous_premium=None,
        annual_premium=quote.annual_premium,
    )
    webhook_events_enqueue(event_type="policy.updated", events=[(partner.pk, _policy_event(policy, "bound"))])
    return policy


@transaction.atomic
def policy_quote_and_bind(
    *,
    driver: Customer,
    partner: Partner,
    vehicle_category: VehicleCategory,
    region: Region,
    kind: str = PolicyKind.PHYD,
    vehicle_age_years: int | None = None,
    starts_on: dt.date | None = None,
    user=None,
) -> Policy:
    """The back office puts a driver in a partner's book: a quote (the same rules as the API's)
    bound at once into a policy, or nothing at all when either step is refused."""
    from apps.audit.services import audit_record

    if not partner.is_active:
        raise ApplicationError(f"{partner} is not an active partner.", code="invalid", extra={"field": "partner"})
    quote = quote_create(
        driver=driver,
        vehicle_category=vehicle_category,
        region=region,
        kind=kind,
        partner=partner,
        vehicle_age_years=vehicle_age_years,
    )
    policy = policy_bind(quote=quote, partner=partner, starts_on=starts_on)
    audit_record(
        action="pricing.policy_bound",
        actor=user,
        entity=policy,
        data={
            "partner": partner.pk,
            "driver": driver.pk,
            "quote": quote.pk,
            "annual_premium": str(policy.annual_premium),
        },
    )
    return policy


@transaction.atomic
def policies_bind_bulk(
    *, partner: Partner, requests: list[QuoteRequest], starts_on: dt.date | None = None
) -> list[Policy]:
    """Quotes and binds many drivers at once (back-office imports, the demo world): the same rules
    as quote_create + policy_bind, in a fixed number of queries. Drivers that already have an
    active policy with the partner are skipped."""
    from apps.accounts.webhooks import webhook_events_enqueue

    taken = set(Policy.objects.filter(partner=partner, status=Policy.Status.ACTIVE).values_list("driver_id", flat=True))
    requests = [r for r in requests if r.driver_id not in taken and r.partner_id == partner.pk]
    if not requests:
        return []
    quotes = _quotes_for(requests)
    starts_on = starts_on or timezone.localdate()
    ends_on = starts_on + dt.timedelta(days=364)
    seen: set[int] = set()
    policies = []
    for quote in quotes:
        if quote.driver_id in seen:
            continue
        seen.add(quote.driver_id)
        policies.append(
            Policy(
                driver_id=quote.driver_id,
                partner=partner,
                quote=quote,
                kind=quote.kind,
                starts_on=starts_on,
                ends_on=ends_on,
                annual_premium=quote.annual_premium,
            )
        )
    Policy.objects.bulk_create(policies, batch_size=1000)
    PremiumChange.objects.bulk_create(
        [
            PremiumChange(
                policy=p,
                driver_id=p.driver_id,
                partner=partner,
                quote=p.quote,
                reason=PremiumChange.Reason.BOUND,
                previous_premium=None,
                annual_premium=p.annual_premium,
            )
            for p in policies
        ],
        batch_size=1000,
    )
    webhook_events_enqueue(
        event_type="policy.updated", events=[(partner.pk, _policy_event(p, "bound")) for p in policies]
    )
    return policies


@transaction.atomic
def policy_cancel(*, policy: Policy, reason: str = "") -> Policy:
    from apps.accounts.webhooks import webhook_events_enqueue

    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if policy.status != Policy.Status.ACTIVE:
        raise ApplicationError(f"The policy is {policy.status}, not active.", code="policy_not_active")
    policy.status = Policy.Status.CANCELLED
    policy.cancelled_at = timezone.now()
    policy.cancel_reason = (reason or "")[:200]
    policy.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    # The premium history ends with the cancellation: nothing is owed from now on, priced on the
    # quote the policy was last priced on.
    PremiumChange.objects.create(
        policy=policy,
        driver_id=policy.driver_id,
        partner_id=policy.partner_id,
        quote=_current_quotes([policy])[policy.pk],
        reason=PremiumChange.Reason.CANCELLED,
        previous_premium=policy.annual_premium,
        annual_premium=Decimal("0.00"),
        created_at=policy.cancelled_at,
    )
    webhook_events_enqueue(
        event_type="policy.updated", events=[(policy.partner_id, _policy_event(policy, "cancelled"))]
    )
    return policy


def _current_quotes(policies: list[Policy]) -> dict[int, Quote]:
    """The quote each policy is priced on now: the latest requote, else the bound quote."""
    latest = {
        pc.policy_id: pc.quote
        for pc in PremiumChange.objects.filter(policy__in=policies)
        .select_related("quote")
        .order_by("policy_id", "-created_at", "-id")
        .distinct("policy_id")
    }
    return {p.pk: latest.get(p.pk, p.quote) for p in policies}


@transaction.atomic
def policies_requote(
    *, driver_ids: Iterable[int] | None = None, policy_ids: Iterable[int] | None = None, as_of: dt.date | None = None
) -> dict[str, int]:
    """Requotes active policies (of these drivers and/or with these ids, or all) with the current
    plan and scores.

    A policy whose premium moves gets the new premium, a PremiumChange row and a
    `policy.updated` webhook. Idempotent: the same inputs give the same quote and no change."""
    from apps.accounts.webhooks import webhook_events_enqueue

    qs = Policy.objects.filter(status=Policy.Status.ACTIVE).select_related("quote").order_by("pk")
    if driver_ids is not None:
        qs = qs.filter(driver_id__in=sorted(set(driver_ids)))
    if policy_ids is not None:
        qs = qs.filter(pk__in=sorted(set(policy_ids)))
    policies = list(qs.select_for_update(of=("self",)))
    if not policies:
        return {"policies": 0, "changed": 0}
    current = _current_quotes(policies)
    requests = [
        QuoteRequest(
            driver_id=p.driver_id,
            vehicle_category_id=current[p.pk].vehicle_category_id,
            region_id=current[p.pk].region_id,
            kind=p.kind,
            partner_id=p.partner_id,
            vehicle_age_years=int((current[p.pk].inputs or {}).get("vehicle_age_years", 0)),
        )
        for p in policies
    ]
    quotes = _quotes_for(requests, as_of=as_of, reuse_bound=True)
    changes, changed_policies = [], []
    now = timezone.now()
    for policy, quote in zip(policies, quotes, strict=True):
        if quote.pk == current[policy.pk].pk or quote.annual_premium == policy.annual_premium:
            continue
        changes.append(
            PremiumChange(
                policy=policy,
                driver_id=policy.driver_id,
                partner_id=policy.partner_id,
                quote=quote,
                reason=PremiumChange.Reason.REQUOTE,
                previous_premium=policy.annual_premium,
                annual_premium=quote.annual_premium,
                created_at=now,
            )
        )
        policy.annual_premium = quote.annual_premium
        policy.updated_at = now
        changed_policies.append(policy)
    PremiumChange.objects.bulk_create(changes, batch_size=500)
    Policy.objects.bulk_update(changed_policies, ["annual_premium", "updated_at"], batch_size=500)
    if changed_policies:
        webhook_events_enqueue(
            event_type="policy.updated",
            events=[(p.partner_id, _policy_event(p, "premium_changed")) for p in changed_policies],
        )
    return {"policies": len(policies), "changed": len(changed_policies)}


# --- follow-ups of a rescoring --------------------------------------------------------------------


def driver_scores_changed(*, driver_ids: list[int]) -> None:
    """Called by risk after new scores are committed: drops the cached score and explanation,
    sends `score.changed` to partners with an active policy for the driver, and queues the
    requote of those drivers' active policies (in chunks, by Celery). Drivers without an active
    policy have nothing to requote: a new quote reads the latest score anyway."""
    from django.db.models.expressions import RawSQL

    from apps.accounts.selectors import driver_score_cache_invalidate, score_payload
    from apps.accounts.webhooks import webhook_events_enqueue
    from apps.common.sql import int_array_literal

    ids = sorted({int(d) for d in driver_ids})
    if not ids:
        return
    driver_score_cache_invalidate(driver_ids=ids)
    # One array parameter, not one per driver: batch scoring calls this per 1,000 drivers, most
    # of whom hold no policy, so the common case is this one read and no transaction at all.
    pairs = list(
        Policy.objects.filter(
            driver_id__in=RawSQL("SELECT unnest(%s::bigint[])", [int_array_literal(ids)]),
            status=Policy.Status.ACTIVE,
        )
        .values_list("driver_id", "partner_id")
        .distinct()
    )
    insured = sorted({d for d, _ in pairs})

    def enqueue() -> None:
        from apps.pricing.tasks import requote_drivers

        # A late reader may have re-cached the old score between invalidation and commit.
        driver_score_cache_invalidate(driver_ids=ids)
        for start in range(0, len(insured), REQUOTE_CHUNK):
            part = insured[start : start + REQUOTE_CHUNK]
            try:
                requote_drivers.apply_async((part,), argsrepr=f"([{len(part)} driver ids],)")
            except Exception:  # broker down: the nightly pricing.requote job catches up
                logger.warning("could not enqueue requote of %d drivers", len(part), exc_info=True)

    if not pairs:
        return  # nobody to notify or requote, and no transaction a stale read could race with
    with transaction.atomic():
        scores = {
            s.driver_id: s
            for s in RiskScore.objects.filter(driver_id__in=insured, model__is_active=True)
            .select_related("model")
            .defer("feature_values", "contributions")
            .order_by("driver_id", "-as_of", "-created_at")
            .distinct("driver_id")
        }
        events = [(partner_id, score_payload(scores[d])) for d, partner_id in pairs if d in scores]
        webhook_events_enqueue(event_type="score.changed", events=events)
        transaction.on_commit(enqueue)


@transaction.atomic
def partner_job_start(*, partner: Partner, kind: str, parameters: dict[str, Any]) -> PartnerJob:
    """Queues a job for a partner and remembers that the partner owns it (GET /jobs/{id}/)."""
    from apps.jobs.services import job_start

    run = job_start(kind=kind, parameters=parameters, trigger="api")
    return PartnerJob.objects.create(partner=partner, job=run)
