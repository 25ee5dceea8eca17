from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.common.exceptions import ApplicationError
from apps.jobs import services as job_services
from apps.jobs.models import JobRun
from apps.ops.selectors import jobs as selectors
from apps.ops.views.base import Column, ListPage, require, staff_required

COLUMNS = [
    Column("pk", "Run", "thousands", sort="id"),
    Column("kind", "Kind", sort="kind"),
    Column("status", "Status", "label", sort="status"),
    Column("trigger", "Trigger", "label"),
    Column("started_by.username", "By"),
    Column("created_at", "Queued", "when", sort="created_at"),
    Column("finished_at", "Finished", "when", sort="finished_at"),
    Column("progress_note", "Progress"),
]


class RunFilter(forms.Form):
    kind = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *JobRun.Status.choices])

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any kind"), *[(k, k) for k in kinds]]


def _runs_context(request, kinds):
    form = RunFilter(request.GET or None, kinds=[k["name"] for k in kinds])
    filters = form.cleaned_data if form.is_valid() else {}
    runs = selectors.job_runs(kind=filters.get("kind", ""), status=filters.get("status", ""))
    return form, ListPage(rows=runs, columns=COLUMNS, default_sort="-created_at", filename="job-runs", per_page=20)


@staff_required
def job_list(request):
    kinds = selectors.job_kinds()
    form, listing = _runs_context(request, kinds)
    can_operate = selectors.user_can_operate_jobs(request.user)
    if request.GET.get("format") == "csv":
        return listing.response(request, "ops/jobs.html", {})
    rows = listing.sorted_rows(request)
    page = Paginator(rows, listing.per_page).get_page(request.GET.get("page"))
    return render(
        request,
        "ops/jobs.html",
        {
            "kinds": kinds,
            "form": form,
            "page": page,
            "runs": [(r, selectors.job_progress(r)) for r in page],
            "can_operate": can_operate,
            "can_see_traceback": can_operate,
        },
    )


@staff_required
def job_detail(request, pk: int):
    run = selectors.job_run_get(pk=pk)
    if run is None:
        raise Http404("no such job run")
    can_operate = selectors.user_can_operate_jobs(request.user)
    return render(
        request,
        "ops/job_detail.html",
        {
            "run": run,
            "progress": selectors.job_progress(run),
            "can_see_traceback": can_operate,
            "can_operate": can_operate,
        },
    )


@staff_required
@require_POST
def job_start(request):
    require(selectors.user_can_operate_jobs(request.user), "Starting jobs is for the ops role and admins.")
    kind = request.POST.get("kind", "")
    known = {k["name"]: k for k in selectors.job_kinds()}
    if kind not in known:
        messages.error(request, "Choose a job kind from the list.")
        return redirect("ops:jobs")
    parameters = {}
    for param in known[kind]["params"]:
        raw = request.POST.get(param["name"], "").strip()
        if param["type"] == "checkbox":
            if raw:
                parameters[param["name"]] = "true"
        elif raw:
            parameters[param["name"]] = raw[:500]
    try:
        run = job_services.job_start(kind=kind, parameters=parameters, user=request.user)
    except (ApplicationError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", str(exc))[:300])
        return redirect("ops:jobs")
    messages.success(request, f"{kind} queued as run #{run.pk}.")
    return redirect("ops:job", pk=run.pk)


@staff_required
@require_POST
def job_cancel(request, pk: int):
    require(selectors.user_can_operate_jobs(request.user), "Cancelling jobs is for the ops role and admins.")
    run = selectors.job_run_get(pk=pk)
    if run is None:
        raise Http404("no such job run")
    job_services.job_cancel(run=run)
    messages.success(request, f"Cancellation of run #{run.pk} requested.")
    return redirect("ops:job", pk=run.pk)
