"""Quotes: their inputs loaded in bulk, priced by `rating`, reused while the same inputs are valid.

The driver's protected attributes (gender, birth year) and contact or credit data are never read:
the only customer column loaded is `licence_since`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Model, Sum
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer, TelematicsConsent
from apps.fleet.models import Vehicle, VehicleCategory
from apps.pricing.models import PolicyKind, Quote, RatePlan
from apps.pricing.services.rate_plans import rate_plan_fingerprint, rate_plan_in_force
from apps.pricing.services.rating import Tariff, quote_compute, years_between
from apps.regions.models import Region
from apps.risk.fairness import price_inputs_check
from apps.risk.models import RiskScore
from apps.telematics.models import DriverFeatures, Trip

# A `partner` argument is a partners.Partner: pricing refers to it by foreign key only (partners
# sits above pricing in the layers and pricing never imports it), so it is typed as a Model here.

FEATURES_MAX_AGE_DAYS = 2
# What a quote is rated on besides the telematics score; the fairness policy (apps.risk.fairness,
# docs/fairness.md) must allow every one of them in a price.
RATING_ATTRIBUTES = ("licence_since", "vehicle_category", "vehicle_age", "region")


@dataclass(frozen=True)
class QuoteRequest:
    driver_id: int
    vehicle_category_id: int
    region_id: int
    kind: str
    partner_id: int | None = None
    vehicle_age_years: int = 0


def _load_inputs(requests: list[QuoteRequest], *, plan: RatePlan, as_of: dt.date) -> list[dict[str, Any]]:
    """Everything each quote depends on, in a fixed number of queries for any number of requests."""
    driver_ids = sorted({r.driver_id for r in requests})
    # Only licence_since: never gender, birth year, income or any other protected or personal field.
    price_inputs_check(RATING_ATTRIBUTES)
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
                "licence_years": years_between(licence[r.driver_id], as_of),
                "rate_plan": {
                    "id": plan.pk,
                    "name": plan.name,
                    "version": plan.version,
                    "fingerprint": rate_plan_fingerprint(plan),
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


def _quote_build(inputs: dict[str, Any], plan: RatePlan, tariff: Tariff, now: dt.datetime) -> Quote:
    prices = quote_compute(inputs=inputs, tariff=tariff)
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


def quotes_for(requests: list[QuoteRequest], *, as_of: dt.date | None = None, reuse_bound: bool = False) -> list[Quote]:
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
    tariff = Tariff.of(plan)
    fresh: dict[str, Quote] = {}
    result = []
    for h, i in zip(hashes, inputs, strict=True):
        quote = existing.get(h) or fresh.get(h)
        if quote is None:
            quote = fresh[h] = _quote_build(i, plan, tariff, now)
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
    partner: Model | None = None,
    vehicle: Vehicle | None = None,
    vehicle_age_years: int | None = None,
    as_of: dt.date | None = None,
) -> Quote:
    """A quote for one driver, priced as `rating` says. The same inputs give the same quote:
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
    return quotes_for([request], as_of=as_of)[0]
