import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.common.exceptions import ApplicationError
from apps.jobs import registry
from apps.jobs.models import JobRun
from apps.jobs.selectors import user_can_operate_jobs
from apps.jobs.services import job_cancel, job_start


def parameter_form_class(kind: registry.JobKind) -> type[forms.Form]:
    """A form with one optional field per declared parameter; blank means the job's default."""
    fields: dict[str, forms.Field] = {}
    for name, kind_type in kind.params.items():
        label = name.replace("_", " ")
        if kind_type is int:
            fields[name] = forms.IntegerField(label=label, required=False)
        elif kind_type is float:
            fields[name] = forms.FloatField(label=label, required=False)
        elif kind_type is bool:
            fields[name] = forms.NullBooleanField(label=label, required=False, widget=forms.NullBooleanSelect)
        elif kind_type is list:
            fields[name] = forms.CharField(label=label, required=False, help_text="Comma-separated values.")
        else:
            fields[name] = forms.CharField(label=label, required=False, max_length=500)
    return type(f"{kind.name.replace('.', '_')}_ParametersForm", (forms.Form,), fields)


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    change_list_template = "admin/jobs/jobrun/change_list.html"
    list_display = ("id", "kind", "status_badge", "progress", "trigger", "started_by", "created_at", "duration")
    list_filter = ("status", "kind", "trigger")
    search_fields = ("kind", "error", "celery_task_id")
    date_hierarchy = "created_at"
    list_select_related = ("started_by",)
    actions = ["cancel_runs"]
    fields = (
        "kind",
        "status",
        "progress",
        "progress_note",
        "parameters_pretty",
        "trigger",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "cancel_requested",
        "result_pretty",
        "error_pretty",
        "celery_task_id",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # runs are started with "Run a job" (job_start), never typed in

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the run history is the record of what ran

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not user_can_operate_jobs(request.user):
            actions.pop("cancel_runs", None)
        return actions

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: JobRun):
        colour = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0", "cancelled": "#6d4c41"}
        return format_html('<b style="color:{}">{}</b>', colour.get(run.status, "#555"), run.status)

    @admin.display(description="progress")
    def progress(self, run: JobRun) -> str:
        if run.progress_total:
            share = 100 * run.progress_done / run.progress_total
            return f"{run.progress_done:,} / {run.progress_total:,} ({share:.0f}%)"
        return f"{run.progress_done:,}" if run.progress_done else "-"

    @admin.display(description="duration")
    def duration(self, run: JobRun) -> str:
        if run.started_at and run.finished_at:
            return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"
        return "-"

    @admin.display(description="parameters")
    def parameters_pretty(self, run: JobRun):
        return format_html("<pre>{}</pre>", json.dumps(run.parameters, indent=2, sort_keys=True))

    @admin.display(description="result")
    def result_pretty(self, run: JobRun):
        return format_html("<pre>{}</pre>", json.dumps(run.result, indent=2, sort_keys=True)[:20000])

    @admin.display(description="error")
    def error_pretty(self, run: JobRun):
        return format_html('<pre style="color:#c62828">{}</pre>', run.error) if run.error else "-"

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        if not user_can_operate_jobs(request.user):
            raise PermissionDenied
        cancelled = 0
        for run in queryset.filter(status__in=JobRun.LIVE).order_by("pk"):
            job_cancel(run=run)
            cancelled += 1
        self.message_user(request, f"Cancellation requested for {cancelled} live run(s).", messages.SUCCESS)

    def get_urls(self):
        custom = [
            path("run/", self.admin_site.admin_view(self.run_list_view), name="jobs_jobrun_run"),
            path("run/<str:kind>/", self.admin_site.admin_view(self.run_kind_view), name="jobs_jobrun_run_kind"),
        ]
        return custom + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run_jobs": user_can_operate_jobs(request.user)}
        return super().changelist_view(request, extra_context)

    def _require_operator(self, request) -> None:
        if not user_can_operate_jobs(request.user):
            raise PermissionDenied("Only the ops role starts jobs.")

    def run_list_view(self, request):
        self._require_operator(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Run a job",
            "kinds": registry.all_kinds().values(),
        }
        return TemplateResponse(request, "admin/jobs/jobrun/run_list.html", context)

    def run_kind_view(self, request, kind: str):
        self._require_operator(request)
        try:
            job_kind = registry.get(kind)
        except KeyError:
            raise Http404(f"unknown job kind {kind}") from None
        form_class = parameter_form_class(job_kind)
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            parameters = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
            try:
                run = job_start(kind=kind, parameters=parameters, user=request.user, trigger="admin")
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Started {kind} as run #{run.pk}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:jobs_jobrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Run {job_kind.title}",
            "kind": job_kind,
            "form": form,
        }
        return TemplateResponse(request, "admin/jobs/jobrun/run_kind.html", context)
