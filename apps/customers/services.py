"""Writes a driver makes about themselves: consent, choices, erasure requests, notifications."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.common.exceptions import ApplicationError
from apps.common.hooks import Hook
from apps.common.versions import version_bump
from apps.customers.models import Customer, ErasureRequest, Notification, TelematicsConsent

logger = logging.getLogger(__name__)

# Sent after a notification is stored and committed, with ``notification``; the pages connect a
# receiver that pushes it to the driver's open portal pages.
notification_created = Hook("customers.notification_created")

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


def notification_create(
    *, customer_id: int, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str
) -> Notification | None:
    """Stores a notification once per (driver, event) and, after commit, e-mails it when the
    driver opted in and tells the open portal pages. A repeat of the same event returns None."""
    with transaction.atomic():
        notification, created = Notification.objects.get_or_create(
            customer_id=customer_id,
            dedupe_key=dedupe_key[:100],
            defaults={"kind": kind, "title": title[:120], "body": body[:500], "url": url[:200]},
        )
    if not created:
        return None
    transaction.on_commit(lambda: _notification_deliver(notification))
    return notification


def _notification_deliver(notification: Notification) -> None:
    # Delivery is best effort: the notification is stored, and the portal shows it either way.
    try:
        notification_created.send(notification=notification)
    except Exception:
        logger.exception("notification %s: live delivery failed", notification.pk)
    customer = Customer.objects.only("email", "notify_by_email").get(pk=notification.customer_id)
    if not (customer.notify_by_email and customer.email):
        return
    try:
        send_mail(
            subject=f"FleetOps: {notification.title}",
            message=f"{notification.body}\n\n{settings.PORTAL_BASE_URL.rstrip('/')}{notification.url}".strip(),
            from_email=None,
            recipient_list=[customer.email],
        )
    except Exception:
        logger.exception("notification %s: e-mail failed", notification.pk)


@transaction.atomic
def notifications_mark_read(*, customer: Customer, ids: list[int] | None = None) -> int:
    rows = Notification.objects.filter(customer=customer, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())
