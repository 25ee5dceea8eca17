from urllib.parse import urlencode

from django import forms
from django.shortcuts import render

from apps.ops.selectors import payments as selectors
from apps.ops.views.base import Column, ListPage, staff_required


class PaymentFilter(forms.Form):
    period = forms.ChoiceField(
        required=False,
        initial="365",
        choices=[("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last 12 months"), ("all", "All time")],
    )
    method = forms.ChoiceField(
        label="Channel", required=False, choices=[("", "Any channel"), *selectors.METHODS.items()]
    )
    mcc = forms.ChoiceField(label="Category", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mcc"].choices = [("", "Any category"), *[(c, f"{c} {d[:40]}") for c, d in selectors.categories()]]


class DrillFilter(PaymentFilter):
    hour = forms.IntegerField(required=False, min_value=0, max_value=23)
    state = forms.CharField(required=False, max_length=100)
    error = forms.CharField(required=False, max_length=40)
    fraud_only = forms.BooleanField(label="Fraud only", required=False)


def _bound(form_class, request):
    """The filter form bound to the query with the period the figures default to, so that a
    query without one (a hand-made ?mcc=…) shows "Last 12 months" as the figures do, not the
    select's first option."""
    if not request.GET:
        return form_class(None)
    query = request.GET.copy()
    query.setdefault("period", PaymentFilter.base_fields["period"].initial)
    return form_class(query)


def _filters(form) -> dict:
    data = form.cleaned_data if form.is_valid() else {}
    return {"period": data.get("period") or "365", "method": data.get("method") or "", "mcc": data.get("mcc") or ""}


def _pct(value) -> float | None:
    return None if value is None else round(value * 100, 3)


def _drill(filters: dict, **extra) -> str:
    return "/ops/fraud/payments/list/?" + urlencode(
        {**{k: v for k, v in filters.items() if v}, **extra, "fraud_only": "on"}
    )


def _rate_chart(
    stats: list[dict], filters: dict, drill_key: str, *, horizontal: bool = False, loss: bool = True
) -> dict:
    datasets = [
        {
            "label": "Fraud rate (shrunk, %)" if horizontal else "Fraud rate (%)",
            "data": [_pct(s["shrunk"] if horizontal else s["rate"]) for s in stats],
        }
    ]
    if loss:
        datasets.append(
            {"label": "Fraud loss ($)", "data": [float(s["loss"]) for s in stats], "axis": "y2", "type": "line"}
        )
    return {
        "type": "bar",
        "labels": [str(s["label"]) for s in stats],
        "datasets": datasets,
        "unit": "%",
        "unit2": "$" if loss else None,
        "horizontal": horizontal,
        "links": [_drill(filters, **{drill_key: s["key"] if s["key"] is not None else ""}) for s in stats],
    }


@staff_required
def payments_fraud(request):
    form = _bound(PaymentFilter, request)
    filters = _filters(form)
    data = selectors.dashboard(**filters)
    hours, categories, states = data["hours"], data["categories"], data["states"]
    methods, errors, months = data["methods"], data["errors"], data["months"]
    for stats, key in ((categories, "mcc"), (states, "state"), (methods, "method"), (errors, "error")):
        for s in stats:
            s["url"] = _drill(filters, **{key: s["label"] if key == "state" else s["key"] or ""})
    worst_hours = sorted((h for h in hours if h["frauds"]), key=lambda h: -h["loss"])[:3]
    context = {
        "form": form,
        "filters": filters,
        "totals": data["totals"],
        "worst_hours": worst_hours,
        "hour_chart": _rate_chart(hours, filters, "hour"),
        "category_chart": _rate_chart(categories[:10], filters, "mcc", horizontal=True, loss=False),
        "categories": categories,
        "states": states,
        "methods": methods,
        "method_chart": _rate_chart(methods, filters, "method"),
        "errors": errors,
        "month_chart": {
            "type": "bar",
            "labels": [m["month"].strftime("%b %Y") for m in months],
            "datasets": [
                {"label": "Fraud loss ($)", "data": [float(m["loss"] or 0) for m in months]},
                {"label": "Frauds", "data": [m["frauds"] for m in months], "axis": "y2", "type": "line"},
            ],
            "unit": "$",
            "unit2": "",
        },
        "model": selectors.model_summary(),
    }
    return render(request, "ops/payments_fraud.html", context)


PAYMENT_COLUMNS = [
    Column("paid_at", "Paid", "when", sort="paid_at"),
    Column("amount", "Amount", "usd", sort="amount"),
    Column("method", "Channel", "label"),
    Column("mcc", "Category"),
    Column("mcc_description", "Category name"),
    Column("merchant_city", "Merchant city"),
    Column("merchant_state", "State"),
    Column("card", "Card (masked)"),
    Column("customer_id", "Customer"),
    Column("is_fraud", "Fraud label", "fraud_label"),
    Column("fraud_score", "Model score", "decimal"),
]


@staff_required
def payment_list(request):
    form = _bound(DrillFilter, request)
    data = form.cleaned_data if form.is_valid() else {}
    drill = {
        **_filters(form),
        "hour": data.get("hour"),
        "state": data.get("state") or "",
        "error": data.get("error") or "",
        "fraud_only": bool(data.get("fraud_only")),
    }
    rows = selectors.payment_list(**drill)

    def with_cards(page: list) -> None:
        cards = selectors.masked_cards(list({row.card_id for row in page}))
        for row in page:
            row.card = cards.get(row.card_id, "")

    listing = ListPage(
        rows=rows,
        columns=PAYMENT_COLUMNS,
        default_sort="-paid_at",
        filename="payments",
        decorate=with_cards,
        count=selectors.payment_count(**drill),
    )
    return listing.response(request, "ops/payments.html", {"form": form})
