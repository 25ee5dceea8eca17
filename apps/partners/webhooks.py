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
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.common import crypto
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


class TargetRefused(Exception):
    """A webhook target that resolves to an address outside the public internet."""


def address_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Public unicast only: not loopback, private, link-local, carrier-grade NAT (100.64/10),
    multicast, unspecified, reserved or documentation ranges, also when written IPv4-mapped
    (::ffff:10.0.0.1) or as 6to4/Teredo."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_is_public(embedded):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip.is_loopback)


def _allowed_ports() -> set[int]:
    return set(getattr(settings, "WEBHOOK_ALLOWED_PORTS", [443, 8443]))


def webhook_url_validate(url: str) -> str:
    """HTTPS to a public host on an allowed port (443, 8443 unless WEBHOOK_ALLOWED_PORTS says
    otherwise); plain HTTP only to hosts listed in WEBHOOK_ALLOW_HTTP_HOSTS (tests, local dev).
    A literal address must be public; a host name is resolved and checked at every delivery."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    if not host:
        raise ApplicationError("The webhook URL needs a host.", code="invalid_url", extra={"field": "url"})
    if parts.username or parts.password:
        raise ApplicationError("The webhook URL may not carry credentials.", code="invalid_url")
    allowed_http = {h.lower() for h in getattr(settings, "WEBHOOK_ALLOW_HTTP_HOSTS", [])}
    if host in allowed_http and parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "https":
        raise ApplicationError("The webhook URL must use https.", code="invalid_url", extra={"field": "url"})
    try:
        port = parts.port or 443
    except ValueError:
        raise ApplicationError("The webhook URL has an invalid port.", code="invalid_url") from None
    if port not in _allowed_ports():
        ports = ", ".join(map(str, sorted(_allowed_ports())))
        raise ApplicationError(f"The webhook URL must use port {ports}.", code="invalid_url", extra={"field": "url"})
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if (ip is not None and not address_is_public(ip)) or host == "localhost" or host.endswith(".localhost"):
        raise ApplicationError("The webhook URL may not point at a private address.", code="invalid_url")
    return url


def webhook_target_resolve(url: str) -> tuple[str, int, str]:
    """(host, port, checked address) for a delivery: the host is resolved now and every address
    it resolves to must be public (a name may point anywhere, and change); the delivery then
    connects to the checked address, so a second lookup cannot lead elsewhere."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed_http = {h.lower() for h in getattr(settings, "WEBHOOK_ALLOW_HTTP_HOSTS", [])}
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"{host} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if host not in allowed_http:
        if port not in _allowed_ports():
            raise TargetRefused(f"port {port} is not allowed")
        refused = [str(a) for a in addresses if not address_is_public(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a non-public address ({', '.join(refused[:3])})")
    return host, port, str(addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address` while the certificate and SNI stay those of the URL's host."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POSTs to the checked address of `url`; returns the status (redirects are not followed)."""
    host, port, address = webhook_target_resolve(url)
    parts = urlsplit(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = connection_class(host, port, address, timeout=timeout)
    try:
        path = parts.path or "/"
        # Title-cased names, as the urllib client sent them (receivers may look them up that way).
        headers = {name.title(): value for name, value in headers.items()}
        conn.request("POST", f"{path}?{parts.query}" if parts.query else path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@transaction.atomic
def webhook_endpoint_create(*, partner: Partner, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """Registers an endpoint with a fresh signing secret; answers the endpoint and the secret in
    clear, to be shown to the partner once (the row holds it only encrypted)."""
    webhook_url_validate(url)
    unknown = sorted(set(events) - set(WebhookEndpoint.Event.values))
    if not events or unknown:
        raise ApplicationError(
            "Choose at least one known event.", code="invalid_events", extra={"known": WebhookEndpoint.Event.values}
        )
    if WebhookEndpoint.objects.filter(partner=partner, url=url).exists():
        raise ApplicationError("This partner already has a webhook at this URL.", code="duplicate")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url=url, events=sorted(set(events)), secret_encrypted=crypto.encrypt(secret)
    )
    return endpoint, secret


def webhook_endpoint_secret(*, endpoint: WebhookEndpoint) -> str:
    """The signing secret in clear, for signing a delivery (raises crypto.SecretUndecryptable)."""
    return crypto.decrypt(endpoint.secret_encrypted)


def webhook_secrets_reencrypt() -> tuple[int, int]:
    """Re-encrypts every endpoint's signing secret under the current FLEETOPS_ENCRYPTION_KEY (after a
    rotation moved the old key to FLEETOPS_ENCRYPTION_KEY_FALLBACKS). Answers (endpoints, re-encrypted);
    raises crypto.SecretUndecryptable, changing nothing, when a secret is under no configured key."""
    changed = 0
    with transaction.atomic():
        endpoints = list(WebhookEndpoint.objects.select_for_update().order_by("pk").only("pk", "secret_encrypted"))
        for endpoint in endpoints:
            if crypto.is_under_current_key(endpoint.secret_encrypted):
                continue
            endpoint.secret_encrypted = crypto.reencrypt(endpoint.secret_encrypted)
            endpoint.save(update_fields=["secret_encrypted"])
            changed += 1
    return len(endpoints), changed


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
    secret = None
    if endpoint.is_active:
        try:
            secret = webhook_endpoint_secret(endpoint=endpoint)
        except crypto.SecretUndecryptable as exc:  # retried: the right key may be deployed meanwhile
            error = f"cannot sign: {exc} (check FLEETOPS_ENCRYPTION_KEY and its fallbacks)"
    if not endpoint.is_active:
        error = "endpoint deactivated"
    elif secret is not None:
        body = _body(delivery.payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "FleetOps-Webhooks/1",
            "X-FleetOps-Event": delivery.event_type,
            "X-FleetOps-Delivery": str(delivery.event_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: webhook_sign(secret=secret, timestamp=timestamp, body=body),
        }
        try:
            status_code = _post(endpoint.url, body, headers, float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5)))
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except TargetRefused as exc:
            error = f"refused: {exc}"[:500]
        except Exception as exc:  # connection refused, timeout, TLS: all retried
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
