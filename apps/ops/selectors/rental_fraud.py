"""Rental fraud: the customers the nightly rules and anomaly scores flagged, with their reasons
and their rentals."""

from django.db.models import QuerySet

from apps.alerts.models import OperationalEvent
from apps.customers.models import Customer
from apps.transactions.models import Rental


def flagged_customers(*, status: str = "live", q: str = "") -> QuerySet[OperationalEvent]:
    events = OperationalEvent.objects.filter(event_type="fraud_risk", entity_type="customers.customer")
    if status == "live":
        events = events.filter(status__in=("open", "acknowledged"))
    elif status and status != "all":
        events = events.filter(status=status)
    if q:
        events = events.filter(entity_id=q) if q.isdigit() else events.filter(title__icontains=q)
    return events.select_related("acknowledged_by").order_by("-score", "-last_seen_at")


def customers_by_id(ids: list[str]) -> dict[str, Customer]:
    ints = [int(i) for i in ids if str(i).isdigit()]
    return {str(c.pk): c for c in Customer.objects.filter(pk__in=ints)}


def customer_get(*, pk: int) -> Customer | None:
    return Customer.objects.filter(pk=pk).first()


def customer_rentals(*, customer: Customer, limit: int = 50) -> list[Rental]:
    return list(
        Rental.objects.filter(customer=customer)
        .select_related("vehicle", "pickup_store", "payment_card")
        .order_by("-rented_at")[:limit]
    )
