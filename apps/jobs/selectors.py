from django.db.models import QuerySet

from apps.jobs.models import JobRun

OPERATOR_ROLES = ("ops", "admin")


def user_can_operate_jobs(user) -> bool:
    """Starting and cancelling jobs is for the ops role (and admins); everyone else watches."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=OPERATOR_ROLES).exists()


def job_run_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[JobRun]:
    runs = JobRun.objects.select_related("started_by")
    if kind:
        runs = runs.filter(kind=kind)
    if status:
        runs = runs.filter(status=status)
    return runs


def job_run_latest_result(*, kind: str) -> JobRun | None:
    """The newest succeeded run of a kind (reports read their stored results from it)."""
    return JobRun.objects.filter(kind=kind, status=JobRun.Status.SUCCEEDED).order_by("-finished_at").first()
