"""Writes a driver makes about themselves: consent, choices, erasure requests, notifications."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.common.hooks import Hook
from apps.common.versions import version_bump
from apps.customers.models import Customer, ErasureRequest, Notification, TelematicsConsent

logger = logging.getLogger(__name__)

# Sent after a batch of notifications is stored and committed, with ``notifications=[...]`` (each
# new one once); the portal connects a receiver that pushes each to its driver's open pages.
notifications_created = Hook("customers.notifications_created")

CONSENT_TERMS_VERSION = "2026-01"
# Bumped on every grant and withdrawal: processes that remember drivers' consent (the positions
# buffer) forget it when it moves.
CONSENT_VERSION_KEY = "customers:consent-version"


@transaction.atomic
def consent_grant(*, customer: Customer, actor=None, source: str = "portal") -> TelematicsConsent:
    """Gives telematics consent; a consent already in force is returned unchanged."""
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    current = TelematicsConsent.objects.filter(customer=customer, withdrawn_at__isnull=True).first()
    if current is not None:
        return current
    consent = TelematicsConsent.objects.create(customer=customer, terms_version=CONSENT_TERMS_VERSION, source=source)
    version_bump(CONSENT_VERSION_KEY)
    audit_record(
        action="customers.consent_granted",
        actor=actor,
        entity=consent,
        data={"customer_id": customer.pk, "terms_version": consent.terms_version, "source": source},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, customer: Customer, actor=None, source: str = "portal") -> TelematicsConsent | None:
    """Withdraws the consent in force, so uploads for this driver are refused from now on.
    Returns the withdrawn consent, or None when none was in force."""
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    current = TelematicsConsent.objects.filter(customer=customer, withdrawn_at__isnull=True).first()
    if current is None:
        return None
    current.withdrawn_at = timezone.now()
    current.save(update_fields=["withdrawn_at"])
    version_bump(CONSENT_VERSION_KEY)
    audit_record(
        action="customers.consent_withdrawn",
        actor=actor,
        entity=current,
        data={"customer_id": customer.pk, "source": source},
    )
    return current


@transaction.atomic
def customer_preferences_update(
    *, customer: Customer, leaderboard_opt_in: bool, notify_by_email: bool, actor=None
) -> Customer:
    changed = {}
    if customer.leaderboard_opt_in != leaderboard_opt_in:
        changed["leaderboard_opt_in"] = leaderboard_opt_in
    if customer.notify_by_email != notify_by_email:
        changed["notify_by_email"] = notify_by_email
    if changed:
        Customer.objects.filter(pk=customer.pk).update(**changed)
        for name, value in changed.items():
            setattr(customer, name, value)
        audit_record(action="customers.preferences_changed", actor=actor, entity=customer, data=changed)
    return customer


def erasure_request_create(*, customer: Customer, reason: str = "", actor=None) -> ErasureRequest:
    """Records a request to erase the driver's trips for the back office. One may wait at a time."""
    try:
        with transaction.atomic():
            request = ErasureRequest.objects.create(customer=customer, reason=reason[:2000])
            audit_record(
                action="customers.erasure_requested", actor=actor, entity=request, data={"scope": request.scope}
            )
    except IntegrityError as exc:
        raise ApplicationError("An erasure request is already waiting for the back office.") from exc
    return request


@transaction.atomic
def erasure_request_close(*, request: ErasureRequest, status: str, actor, note: str = "") -> ErasureRequest:
    """The back office's decision. Erasing the trips themselves is telematics' work, started by the
    admin action that calls this; here the request is closed and the decision audited."""
    if status not in (ErasureRequest.Status.DONE, ErasureRequest.Status.REFUSED):
        raise ApplicationError(f"Unknown outcome {status!r}.")
    if status == ErasureRequest.Status.REFUSED and not note.strip():
        raise ApplicationError("Refusing an erasure request needs a note saying why.")
    locked = ErasureRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != ErasureRequest.Status.PENDING:
        raise ApplicationError("This request has already been handled.")
    locked.status = status
    locked.handled_at = timezone.now()
    locked.handled_by = actor
    locked.note = note
    locked.save(update_fields=["status", "handled_at", "handled_by", "note"])
    audit_record(action=f"customers.erasure_{status}", actor=actor, entity=locked, data={"note": note})
    return locked


@dataclass(frozen=True)
class NotificationDraft:
    """A notification to store: `dedupe_key` names the event, so a retried task notifies once."""

    customer_id: int
    kind: str
    title: str
    dedupe_key: str
    body: str = ""
    url: str = ""


_NOTIFICATIONS_INSERT = """
    INSERT INTO customers_notification (customer_id, kind, title, body, url, dedupe_key, created_at)
    SELECT d.customer_id, d.kind, d.title, d.body, d.url, d.dedupe_key, %s
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
        AS d(customer_id, kind, title, body, url, dedupe_key)
    ON CONFLICT (customer_id, dedupe_key) DO NOTHING
    RETURNING id, customer_id, kind, title, body, url, dedupe_key, created_at"""


def notifications_create(*, drafts: Iterable[NotificationDraft]) -> list[Notification]:
    """Stores a batch of notifications in one statement, each once per (driver, event): an event
    already notified is skipped. After commit the new ones are told to the open portal pages
    (notifications_created) and e-mailed to the drivers who opted in. Returns the new ones."""
    unique: dict[tuple[int, str], NotificationDraft] = {}
    for draft in drafts:
        unique.setdefault((int(draft.customer_id), draft.dedupe_key[:100]), draft)
    if not unique:
        return []
    # By driver (the same order in every batch, so two concurrent batches never wait on each
    # other crosswise), each driver's in the order given.
    keys = sorted(unique, key=lambda k: k[0])
    rows = [unique[k] for k in keys]
    with connection.cursor() as cursor:
        cursor.execute(
            _NOTIFICATIONS_INSERT,
            [
                timezone.now(),
                [k[0] for k in keys],
                [d.kind for d in rows],
                [d.title[:120] for d in rows],
                [d.body[:500] for d in rows],
                [d.url[:200] for d in rows],
                [k[1] for k in keys],
            ],
        )
        columns = [c.name for c in cursor.description]
        created = [Notification(**dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]
    for notification in created:
        notification._state.adding = False
    created.sort(key=lambda n: n.pk)
    if created:
        transaction.on_commit(lambda: _notifications_deliver(created))
    return created


def notification_create(
    *, customer_id: int, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str
) -> Notification | None:
    """One notification (see notifications_create); a repeat of the same event returns None."""
    draft = NotificationDraft(
        customer_id=customer_id, kind=kind, title=title, body=body, url=url, dedupe_key=dedupe_key
    )
    created = notifications_create(drafts=[draft])
    return created[0] if created else None


def _notifications_deliver(notifications: list[Notification]) -> None:
    # Delivery is best effort: the notifications are stored, and the portal shows them either way.
    try:
        notifications_created.send(notifications=notifications)
    except Exception:
        logger.exception("notifications %s..: live delivery failed", notifications[0].pk)
    recipients = dict(
        Customer.objects.filter(pk__in={n.customer_id for n in notifications}, notify_by_email=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    base = settings.PORTAL_BASE_URL.rstrip("/")
    mails = [
        EmailMessage(
            subject=f"FleetOps: {n.title}",
            body=f"{n.body}\n\n{base}{n.url}".strip(),
            to=[recipients[n.customer_id]],
        )
        for n in notifications
        if n.customer_id in recipients
    ]
    if not mails:
        return
    mailer = get_connection()
    for mail in mails:  # one failed address does not hold up the others
        try:
            mailer.send_messages([mail])
        except Exception:
            logger.exception("notification e-mail to driver failed: %s", mail.subject)


@transaction.atomic
def notifications_mark_read(*, customer: Customer, ids: list[int] | None = None) -> int:
    rows = Notification.objects.filter(customer=customer, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())
