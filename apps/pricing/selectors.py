from django.db.models import QuerySet

from apps.accounts.models import Partner
from apps.pricing.models import Policy, PremiumChange, Quote


def premium_history(*, driver_id: int, partner: Partner | None = None) -> QuerySet[PremiumChange]:
    """A driver's premiums over time (binding, each requote that moved it, newest first)."""
    qs = PremiumChange.objects.filter(driver_id=driver_id)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return qs.select_related("quote").order_by("-created_at", "-id")


def partner_quotes(*, partner: Partner) -> QuerySet[Quote]:
    return Quote.objects.filter(partner=partner).select_related("rate_plan", "vehicle_category", "region", "risk_score")


def partner_policies(*, partner: Partner) -> QuerySet[Policy]:
    return Policy.objects.filter(partner=partner)
