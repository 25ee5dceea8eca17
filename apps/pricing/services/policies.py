"""Policies: binding quotes (one at a time or in bulk), cancelling, requoting active policies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer
from apps.fleet.models import VehicleCategory
from apps.pricing import hooks
from apps.pricing.models import Policy, PolicyKind, PremiumChange, Quote
from apps.pricing.services.notices import premium_changes_notify
from apps.pricing.services.quotes import QuoteRequest, quote_create, quotes_for
from apps.regions.models import Region

# A `partner` argument is a partners.Partner: pricing refers to it by foreign key only (partners
# sits above pricing in the layers and pricing never imports it), so it is typed as a Model here.


def policy_ends_on(starts_on: dt.date) -> dt.date:
    """The last day of a one-year term: the same day next year minus one day (a term that starts
    on 29 February ends on 28 February, the day before 1 March)."""
    if (starts_on.month, starts_on.day) == (2, 29):
        return dt.date(starts_on.year + 1, 2, 28)
    return starts_on.replace(year=starts_on.year + 1) - dt.timedelta(days=1)


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
def policy_bind(*, quote: Quote, partner: Model, starts_on: dt.date | None = None) -> Policy:
    """Binds a partner's valid quote into an active one-year policy."""
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
    policy = Policy.objects.create(
        driver_id=quote.driver_id,
        partner=partner,
        quote=quote,
        kind=quote.kind,
        starts_on=starts_on,
        ends_on=policy_ends_on(starts_on),
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
    hooks.policies_updated.send(events=[(partner.pk, _policy_event(policy, "bound"))])
    return policy


@transaction.atomic
def policy_quote_and_bind(
    *,
    driver: Customer,
    partner: Model,
    vehicle_category: VehicleCategory,
    region: Region,
    kind: str = PolicyKind.PHYD,
    vehicle_age_years: int | None = None,
    starts_on: dt.date | None = None,
    user=None,
) -> Policy:
    """The back office puts a driver in a partner's book: a quote (the same rules as the API's)
    bound at once into a policy, or nothing at all when either step is refused."""
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
    *, partner: Model, requests: list[QuoteRequest], starts_on: dt.date | None = None
) -> list[Policy]:
    """Quotes and binds many drivers at once (back-office imports, the demo world): the same rules
    as quote_create + policy_bind, in a fixed number of queries. Drivers that already have an
    active policy with the partner are skipped."""
    taken = set(Policy.objects.filter(partner=partner, status=Policy.Status.ACTIVE).values_list("driver_id", flat=True))
    requests = [r for r in requests if r.driver_id not in taken and r.partner_id == partner.pk]
    if not requests:
        return []
    quotes = quotes_for(requests)
    starts_on = starts_on or timezone.localdate()
    ends_on = policy_ends_on(starts_on)
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
    hooks.policies_updated.send(events=[(partner.pk, _policy_event(p, "bound")) for p in policies])
    return policies


@transaction.atomic
def policy_cancel(*, policy: Policy, reason: str = "") -> Policy:
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
    hooks.policies_updated.send(events=[(policy.partner_id, _policy_event(policy, "cancelled"))])
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

    A policy whose premium moves gets the new premium, a PremiumChange row, a notification to its
    driver and a `policy.updated` webhook. Idempotent: the same inputs give the same quote and no change."""
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
    quotes = quotes_for(requests, as_of=as_of, reuse_bound=True)
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
    premium_changes_notify(changes=changes)
    if changed_policies:
        hooks.policies_updated.send(
            events=[(p.partner_id, _policy_event(p, "premium_changed")) for p in changed_policies],
        )
    return {"policies": len(policies), "changed": len(changed_policies)}
