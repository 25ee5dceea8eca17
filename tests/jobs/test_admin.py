import pytest
from django.urls import reverse

from apps.jobs.models import JobRun
from tests.jobs import kinds  # noqa: F401  (registers the test job kinds)
from tests.jobs.factories import JobRunFactory


@pytest.fixture
def ops_client(client, role_user):
    client.force_login(role_user("ops"))
    return client


@pytest.mark.django_db
def test_ops_runs_a_job_with_parameters_from_the_admin(ops_client, django_capture_on_commit_callbacks):
    url = reverse("admin:jobs_jobrun_run_kind", kwargs={"kind": "tests.counting"})
    page = ops_client.get(url)
    assert page.status_code == 200
    assert 'name="size"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(url, {"size": "2", "label": "", "flag": "true", "ids": "7,8"})
    run = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobs_jobrun_change", args=[run.pk])
    assert run.parameters == {"size": 2, "flag": True, "ids": ["7", "8"]}
    assert run.trigger == "admin"
    run.refresh_from_db()
    assert run.status == "succeeded"
    detail = ops_client.get(response["Location"]).content.decode()
    assert "succeeded" in detail and "2 / 2 (100%)" in detail


@pytest.mark.django_db
def test_admin_refuses_a_second_live_run_with_the_error_shown(ops_client):
    JobRunFactory(kind="tests.counting", parameters={}, parameters_hash=_hash({}), status="running")
    url = reverse("admin:jobs_jobrun_run_kind", kwargs={"kind": "tests.counting"})
    response = ops_client.post(url, {})
    assert response.status_code == 200
    assert "already running" in response.content.decode()
    assert JobRun.objects.count() == 1


@pytest.mark.django_db
def test_run_list_shows_registered_kinds(ops_client):
    page = ops_client.get(reverse("admin:jobs_jobrun_run")).content.decode()
    assert "tests.counting" in page and "Counts its runs" in page
    assert "Run a job" in ops_client.get(reverse("admin:jobs_jobrun_changelist")).content.decode()


@pytest.mark.parametrize("role", ["analyst", "back_office"])
@pytest.mark.django_db
def test_other_roles_see_runs_but_cannot_start_or_cancel(client, role_user, role):
    client.force_login(role_user(role))
    run = JobRunFactory(kind="tests.counting", status="running", error="")
    changelist = client.get(reverse("admin:jobs_jobrun_changelist"))
    assert changelist.status_code == 200
    assert "Run a job" not in changelist.content.decode()
    assert client.get(reverse("admin:jobs_jobrun_change", args=[run.pk])).status_code == 200
    assert client.get(reverse("admin:jobs_jobrun_run")).status_code == 403
    url = reverse("admin:jobs_jobrun_run_kind", kwargs={"kind": "tests.counting"})
    assert client.post(url, {"size": "1"}).status_code == 403
    client.post(reverse("admin:jobs_jobrun_changelist"), {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.cancel_requested is False


@pytest.mark.django_db
def test_ops_cancels_live_runs_from_the_list(ops_client):
    queued = JobRunFactory(kind="tests.counting", status="queued")
    running = JobRunFactory(kind="tests.blocking", status="running")
    done = JobRunFactory(kind="tests.failing", status="failed", finished_at="2026-01-01T00:00:00Z")
    ops_client.post(
        reverse("admin:jobs_jobrun_changelist"),
        {"action": "cancel_runs", "_selected_action": [queued.pk, running.pk, done.pk]},
    )
    for run in (queued, running, done):
        run.refresh_from_db()
    assert (queued.status, queued.cancel_requested) == ("cancelled", True)
    assert (running.status, running.cancel_requested) == ("running", True)
    assert (done.status, done.cancel_requested) == ("failed", False)


@pytest.mark.django_db
def test_failed_run_shows_its_error(ops_client):
    run = JobRunFactory(kind="tests.failing", status="failed", error="ValueError: disk full\nTraceback …")
    page = ops_client.get(reverse("admin:jobs_jobrun_change", args=[run.pk])).content.decode()
    assert "ValueError: disk full" in page


def _hash(params):
    from apps.jobs.services import _params_hash

    return _params_hash(params)
