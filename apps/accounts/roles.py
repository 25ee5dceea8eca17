"""What each staff role may do in the back office, as Django model permissions.

- admin: everything (Django superuser-like, but through permissions), users and groups included.
- back_office: works on operational models (add/change/delete, view); immutable ledgers
  (quotes, audit entries, ingest runs, rejected rows, scores) view only; reviews and resolves
  alerts and starts jobs (ARCHITECTURE: "review and resolve alerts; trigger jobs").
- analyst: reads everything, changes nothing.
- ops: manages jobs, alerts and schedules; reads everything else.
"""

from django.contrib.auth.models import Group, Permission

OPERATIONAL_APPS = {
    "regions",
    "fleet",
    "customers",
    "transactions",
    "telematics",
    "pricing",
    "risk",
    "accounts",
    "partners",
}
# Rows nobody edits by hand (written by services only).
IMMUTABLE_MODELS = {
    "pricing.quote",
    "audit.auditentry",
    "transactions.ingestrun",
    "transactions.rejectedrow",
    "transactions.payment",
    "risk.riskscore",
    "telematics.driverfeatures",
    "partners.idempotencykey",
    "partners.webhookdelivery",
    "regions.storedailymetrics",
    "fleet.maintenanceforecast",
    "customers.notification",
    "telematics.badge",
}
OPS_APPS = {"jobs", "alerts", "django_celery_beat"}
STAFF_APPS = OPERATIONAL_APPS | OPS_APPS | {"audit"}
# Beyond the operational apps, back office may work alerts (acknowledge/resolve) and start jobs.
BACK_OFFICE_EXTRA = {"alerts.change_operationalevent", "jobs.add_jobrun"}


def _label(perm: Permission) -> str:
    return f"{perm.content_type.app_label}.{perm.content_type.model}"


def role_permissions() -> dict[str, list[Permission]]:
    everything = list(
        Permission.objects.select_related("content_type").filter(content_type__app_label__in=STAFF_APPS | {"auth"})
    )
    perms = [p for p in everything if p.content_type.app_label in STAFF_APPS]
    views = [p for p in perms if p.codename.startswith("view_")]
    back_office = [
        p
        for p in perms
        if (
            p.content_type.app_label in OPERATIONAL_APPS
            and (p.codename.startswith("view_") or _label(p) not in IMMUTABLE_MODELS)
            and _label(p) != "accounts.user"
        )
        or f"{p.content_type.app_label}.{p.codename}" in BACK_OFFICE_EXTRA
    ]
    ops = views + [p for p in perms if p.content_type.app_label in OPS_APPS and not p.codename.startswith("view_")]
    return {
        "admin": everything,
        "back_office": back_office + [p for p in views if p not in back_office],
        "analyst": views,
        "ops": ops,
    }


def sync_role_permissions(**kwargs) -> None:
    for role, perms in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(perms)
