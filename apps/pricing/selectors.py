from django.db.models import Model, QuerySet

from apps.pricing.models import Policy, PremiumChange, Quote

# `partner` is a partners.Partner, referred to by foreign key only (partners sits above pricing).


def premium_history(*, driver_id: int, partner: Model | None = None) -> QuerySet[PremiumChange]:
    """A driver's premiums over time (binding, each requote that moved it, newest first)."""
    qs = PremiumChange.objects.filter(driver_id=driver_id)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return qs.select_related("quote").order_by("-created_at", "-id")


def partner_quotes(*, partner: Model) -> QuerySet[Quote]:
    return Quote.objects.filter(partner=partner).select_related("rate_plan", "vehicle_category", "region", "risk_score")


def partner_policies(*, partner: Model) -> QuerySet[Policy]:
    return Policy.objects.filter(partner=partner)
