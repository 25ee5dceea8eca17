from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.alerts import services as alert_services
from apps.alerts.models import OperationalEvent
from apps.common.exceptions import ApplicationError
from apps.ops.selectors import alerts as selectors
from apps.ops.views.base import Column, ListPage, require, staff_required


class AlertFilter(forms.Form):
    event_type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *OperationalEvent.EventType.choices]
    )
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *OperationalEvent.Severity.choices])
    status = forms.ChoiceField(required=False, choices=selectors.STATUS_CHOICES)
    age = forms.ChoiceField(required=False, choices=selectors.AGE_CHOICES)
    q = forms.CharField(label="Search", required=False, max_length=100)


class AlertAction(forms.Form):
    action = forms.ChoiceField(choices=[("acknowledge", "Acknowledge"), ("resolve", "Resolve"), ("dismiss", "Dismiss")])
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    next = forms.CharField(required=False, max_length=500)


COLUMNS = [
    Column("severity", "Severity", "label", sort="severity_rank"),
    Column("title", "Alert"),
    Column("entity_type", "About"),
    Column("entity_id", "Id"),
    Column("event_type", "Type", "label", sort="event_type"),
    Column("status", "Status", "label", sort="status"),
    Column("acknowledged_by.username", "On it"),
    Column("occurrences", "Seen", "thousands", sort="occurrences"),
    Column("opened_at", "Opened", "when", sort="opened_at"),
    Column("last_seen_at", "Last seen", "when", sort="last_seen_at"),
]


@staff_required
def alert_list(request):
    form = AlertFilter(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    filters = {k: v for k, v in filters.items() if v}
    filters.setdefault("status", "live")
    events = selectors.alert_list(**filters)
    listing = ListPage(rows=events, columns=COLUMNS, default_sort="severity", filename="alerts", per_page=25)
    return listing.response(
        request,
        "ops/alerts.html",
        {"form": form, "can_act": selectors.user_can_work_alerts(request.user), "action_form": AlertAction()},
    )


@staff_required
def alert_detail(request, pk: int):
    event = selectors.alert_get(pk=pk)
    if event is None:
        raise Http404("no such alert")
    return render(
        request,
        "ops/alert_detail.html",
        {"event": event, "can_act": selectors.user_can_work_alerts(request.user), "action_form": AlertAction()},
    )


@staff_required
@require_POST
def alert_act(request, pk: int):
    require(selectors.user_can_work_alerts(request.user), "Your role may read alerts but not work them.")
    event = selectors.alert_get(pk=pk)
    if event is None:
        raise Http404("no such alert")
    form = AlertAction(request.POST)
    back = request.POST.get("next") or ""
    if not back.startswith("/ops/"):
        back = f"/ops/alerts/{pk}/"
    if not form.is_valid():
        messages.error(request, "Choose acknowledge, resolve or dismiss.")
        return redirect(back)
    action, note = form.cleaned_data["action"], form.cleaned_data["note"]
    service = {
        "acknowledge": alert_services.event_acknowledge,
        "resolve": alert_services.event_resolve,
        "dismiss": alert_services.event_dismiss,
    }[action]
    try:
        service(event=event, user=request.user, note=note)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Alert #{event.pk} {action.replace('acknowledge', 'acknowledg')}ed.")
    return redirect(back)
