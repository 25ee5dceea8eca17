from django import forms

from apps.ops.selectors import rental_fraud as selectors
from apps.ops.views.base import Column, ListPage, staff_required

COLUMNS = [
    Column("score", "Score", "decimal", sort="score"),
    Column("customer_name", "Customer", link="/ops/fraud/rentals/?customer={entity_id}"),
    Column("entity_id", "Customer id"),
    Column("severity", "Severity", "label", sort="severity"),
    Column("status", "Status", "label", sort="status"),
    Column("reasons", "Reasons"),
    Column("last_seen_at", "Last seen", "when", sort="last_seen_at"),
]


class FlaggedFilter(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("live", "Open or acknowledged"),
            ("resolved", "Resolved"),
            ("dismissed", "Dismissed"),
            ("all", "All"),
        ],
    )
    q = forms.CharField(label="Customer id or name", required=False, max_length=60)
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)


@staff_required
def rental_fraud(request):
    form = FlaggedFilter(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    events = selectors.flagged_customers(status=data.get("status") or "live", q=data.get("q") or "")

    def with_customers(page: list) -> None:
        customers = selectors.customers_by_id([e.entity_id for e in page])
        for event in page:
            customer = customers.get(event.entity_id)
            event.customer_name = str(customer) if customer else f"Customer {event.entity_id}"
            event.reasons = "; ".join(line.lstrip("- ") for line in event.description.splitlines() if line.strip())

    selected = selectors.customer_get(pk=data["customer"]) if data.get("customer") else None
    listing = ListPage(
        rows=events, columns=COLUMNS, default_sort="-score", filename="rental-fraud", decorate=with_customers
    )
    context = {"form": form, "selected": selected}
    if selected:
        context["selected_rentals"] = selectors.customer_rentals(customer=selected)
        context["selected_events"] = list(selectors.flagged_customers(status="all", q=str(selected.pk))[:5])
    return listing.response(request, "ops/rental_fraud.html", context)
