"""Rate plans: the version in force, new versions, and the checks of a plan's tables."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.pricing.models import RatePlan

DEFAULT_PLAN = "standard"

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


def rate_plan_fingerprint(plan: RatePlan) -> str:
    """Part of the quote inputs, so a quote is never reused across any change of the plan's numbers."""
    content = json.dumps({f: getattr(plan, f) for f in PLAN_PRICING_FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


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
