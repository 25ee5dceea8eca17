import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import sync_role_permissions

pytestmark = pytest.mark.django_db


def perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_four_role_groups_exist_with_permissions_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "back_office", "analyst", "ops"}
    for role in ("admin", "back_office", "analyst", "ops"):
        assert perms(role), role


def test_back_office_works_operational_models_and_only_reads_ledgers():
    back_office = perms("back_office")
    assert {
        "fleet.change_vehicle",
        "fleet.add_maintenancerecord",
        "customers.change_customer",
        "regions.add_store",
        "transactions.change_rental",
        "partners.add_apitoken",
        "alerts.change_operationalevent",
        "jobs.add_jobrun",
    } <= back_office
    assert {"audit.view_auditentry", "pricing.view_quote", "transactions.view_ingestrun"} <= back_office
    for forbidden in (
        "audit.change_auditentry",
        "audit.delete_auditentry",
        "pricing.change_quote",
        "transactions.change_rejectedrow",
        "partners.change_webhookdelivery",
        "partners.change_idempotencykey",
        "accounts.change_user",
        "auth.change_group",
        "django_celery_beat.change_periodictask",
    ):
        assert forbidden not in back_office, forbidden


def test_analyst_only_views():
    analyst = perms("analyst")
    assert {"fleet.view_vehicle", "audit.view_auditentry", "alerts.view_operationalevent"} <= analyst
    assert all(codename.split(".")[1].startswith("view_") for codename in analyst)


def test_ops_manages_jobs_alerts_and_schedules_and_reads_the_rest():
    ops = perms("ops")
    assert {
        "jobs.add_jobrun",
        "jobs.change_jobrun",
        "alerts.change_operationalevent",
        "django_celery_beat.change_periodictask",
        "fleet.view_vehicle",
    } <= ops
    assert "fleet.change_vehicle" not in ops
    assert "customers.change_customer" not in ops


def test_admin_manages_users_and_groups():
    assert {"accounts.change_user", "auth.change_group", "audit.view_auditentry"} <= perms("admin")
    assert "audit.change_auditentry" in perms("admin")  # the model permission; the trigger still refuses


def test_sync_is_idempotent():
    before = {role: perms(role) for role in ("admin", "back_office", "analyst", "ops")}
    sync_role_permissions()
    assert {role: perms(role) for role in before} == before
