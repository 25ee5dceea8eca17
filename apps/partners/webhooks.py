"""Outgoing webhooks to partner insurers: registration, signed delivery, retries with back-off.

Signature: every request carries
    X-FleetOps-Timestamp: <unix seconds>
    X-FleetOps-Signature: sha256=<hex HMAC-SHA256(endpoint secret, "<timestamp>.<raw body>")>
A receiver recomputes the HMAC over the timestamp header, a dot and the raw body, compares in
constant time and rejects old timestamps (replay). Delivery is at least once: the body's `id`
(also in X-FleetOps-Delivery) lets a receiver drop duplicates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.partners.models import Partner, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "X-FleetOps-Signature"
TIMESTAMP_HEADER = "X-FleetOps-Timestamp"


def _max_attempts() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 6))


def _backoff_seconds(attempt: int) -> int:
    """Exponential back-off after the n-th failed attempt: base, 2*base, 4*base, ... capped."""
    base = int(getattr(settings, "WEBHOOK_BACKOFF_BASE_SECONDS", 30))
    return min(base * 2 ** (attempt - 1), int(getattr(settings, "WEBHOOK_BACKOFF_MAX_SECONDS", 3600)))


def webhook_url_validate(url: str) -> str:
    """HTTPS only; plain HTTP only to hosts listed in WEBHOOK_ALLOW_HTTP_HOSTS (tests, local dev)."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    if not host:
        raise ApplicationError("The webhook URL needs a host.", code="invalid_url", extra={"field": "url"})
    if parts.username or parts.password:
        raise ApplicationError("The webhook URL may not carry credentials.", code="invalid_url")
    allowed_http = {h.lower() for h in getattr(settings, "WEBHOOK_ALLOW_HTTP_HOSTS", [])}
    if parts.scheme == "https":
        pass
    elif parts.scheme == "http" and host in allowed_http:
        return url
    else:
        raise ApplicationError("The webhook URL must use https.", code="invalid_url", extra={"field": "url"})
    # No deliveries into our own network (a cheap guard against server-side request forgery).
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and (ip.is_private or ip.is_loopback or ip.is_link_local) and host not in allowed_http:
        raise ApplicationError("The webhook URL may not point at a private address.", code="invalid_url")
    if host == "localhost" and host not in allowed_http:
        raise ApplicationError("The webhook URL may not point at a private address.", code="invalid_url")
    return url


@transaction.atomic
def webhook_endpoint_create(*, partner: Partner, url: str, events: list[str]) -> WebhookEndpoint:
    """Registers an endpoint with a fresh signing secret (shown to the partner once)."""
    webhook_url_validate(url)
    unknown = sorted(set(events) - set(WebhookEndpoint.Event.values))
    if not events or unknown:
        raise ApplicationError(
            "Choose at least one known event.", code="invalid_events", extra={"known": WebhookEndpoint.Event.values}
        )
    if WebhookEndpoint.objects.filter(partner=partner, url=url).exists():
        raise ApplicationError("This partner already has a webhook at this URL.", code="duplicate")
    return WebhookEndpoint.objects.create(
        partner=partner, url=url, events=sorted(set(events)), secret=f"whsec_{secrets.token_urlsafe(32)}"
    )


@transaction.atomic
def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active", "updated_at"])
    return endpoint


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def webhook_signature_verify(*, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300) -> bool:
    """What a receiver does (used by our tests and given to partners as the reference)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(webhook_sign(secret=secret, timestamp=ts, body=body), signature or "")


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


@transaction.atomic
def webhook_events_enqueue(*, event_type: str, events: list[tuple[int, dict[str, Any]]]) -> list[int]:
    """Creates one delivery per (partner, data) and subscribed active endpoint of that partner,
    in bulk. Returns the delivery ids, for the caller to queue after commit
    (tasks.webhook_deliveries_dispatch; receivers.webhook_events_send does both)."""
    if event_type not in WebhookEndpoint.Event.values:
        raise ApplicationError(f"Unknown webhook event {event_type!r}.", code="invalid_event")
    partner_ids = {partner_id for partner_id, _ in events}
    if not partner_ids:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        partner_id__in=partner_ids, is_active=True, partner__is_active=True, events__contains=[event_type]
    ).only("id", "partner_id"):
        endpoints.setdefault(endpoint.partner_id, []).append(endpoint)
    now = timezone.now()
    rows = []
    for partner_id, data in events:
        for endpoint in endpoints.get(partner_id, []):
            event_id = uuid.uuid4()
            payload = {"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": data}
            rows.append(
                WebhookDelivery(
                    endpoint_id=endpoint.pk,
                    event_type=event_type,
                    event_id=event_id,
                    payload=payload,
                    next_attempt_at=now,
                )
            )
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    return [row.pk for row in created]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is a failed delivery, never followed


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class AttemptOutcome:
    delivered: bool
    retry_in: int | None  # seconds until the next attempt, None when finished


def webhook_delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """Sends one attempt of a pending delivery and logs it on the delivery row."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return AttemptOutcome(delivered=delivery is not None, retry_in=None)
    endpoint = delivery.endpoint
    attempt = delivery.attempts + 1
    started = timezone.now()
    status_code: int | None = None
    error = ""
    if not endpoint.is_active:
        error = "endpoint deactivated"
    else:
        body = _body(delivery.payload)
        timestamp = int(time.time())
        request = urllib.request.Request(
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "FleetOps-Webhooks/1",
                "X-FleetOps-Event": delivery.event_type,
                "X-FleetOps-Delivery": str(delivery.event_id),
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: webhook_sign(secret=endpoint.secret, timestamp=timestamp, body=body),
            },
        )
        try:
            with _opener.open(request, timeout=float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5))) as response:
                status_code = response.status
        except urllib.error.HTTPError as exc:
            status_code = exc.code
            error = f"HTTP {exc.code}"
        except Exception as exc:  # connection refused, timeout, TLS, DNS: all retried
            error = f"{exc.__class__.__name__}: {exc}"[:500]
    delivered = status_code is not None and 200 <= status_code < 300
    finished = delivered or not endpoint.is_active or attempt >= _max_attempts()
    retry_in = None if finished else _backoff_seconds(attempt)
    now = timezone.now()
    entry = {
        "attempt": attempt,
        "at": started.isoformat(),
        "duration_ms": round((now - started).total_seconds() * 1000, 1),
        "status_code": status_code,
        "error": error,
    }
    if delivered:
        status = WebhookDelivery.Status.DELIVERED
    else:
        status = WebhookDelivery.Status.FAILED if finished else WebhookDelivery.Status.PENDING
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        row.attempts = F("attempts") + 1
        row.attempt_log = [*row.attempt_log, entry]
        row.last_status_code = status_code
        row.last_error = error
        row.status = status
        row.delivered_at = now if delivered else None
        row.next_attempt_at = now + dt.timedelta(seconds=retry_in) if retry_in is not None else None
        row.save(
            update_fields=[
                "attempts",
                "attempt_log",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
                "updated_at",
            ]
        )
    return AttemptOutcome(delivered=delivered, retry_in=retry_in)


def webhook_deliveries_overdue(*, older_than_seconds: int = 600) -> list[int]:
    """Pending deliveries whose next attempt is long overdue (their message was lost), oldest first."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
