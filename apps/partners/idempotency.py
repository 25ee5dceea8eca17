"""`Idempotency-Key` for every POST of the partner API.

The first response to a (partner, key) is stored with a hash of the request (method, path and the
parsed JSON body). The same key with the same request replays that response (with the header
`Idempotent-Replayed: true`; a webhook registration is replayed without its signing secret, which is
shown once and never stored here); the same key with another request is a 422; a key whose first
request is still running is a 409. Server errors (5xx) are not stored, so they can be retried.
The header is optional: without it a POST is processed as usual.

A key lives IDEMPOTENCY_KEY_TTL_SECONDS (24 h by default) from its first request: after that the
same key is a new request (processed again, not replayed, whatever its body), and the beat task
`partners.idempotency_keys_expire` deletes expired keys.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.partners.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Response fields never stored with a key (so never replayed): the webhook signing secret.
NEVER_STORED = frozenset({"secret"})
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    default_code = "idempotency_key_in_progress"


def request_fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def idempotency_key_cutoff() -> dt.datetime:
    """Keys first used before this have expired."""
    return timezone.now() - dt.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)


def idempotency_keys_expire() -> int:
    """Deletes the expired keys (their responses with them); answers how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=idempotency_key_cutoff()).delete()
    return deleted


def _key_record_create(*, partner, key: str, request, fingerprint: str) -> IdempotencyKey | None:
    """The new key's row, or None when the partner already holds this key and it has not expired.
    An expired key (not yet swept) is deleted here, so its reuse is a new request."""
    fields = {"method": request.method, "path": request.path[:500], "request_hash": fingerprint}
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(partner=partner, key=key, **fields)
    except IntegrityError:
        pass
    expired = IdempotencyKey.objects.filter(partner=partner, key=key, created_at__lt=idempotency_key_cutoff())
    if not expired.delete()[0]:
        return None
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(partner=partner, key=key, **fields)
    except IntegrityError:  # a concurrent reuse of the expired key came first: it is that one's now
        return None


def idempotent(handler):
    """Decorates a POST handler of an APIView whose request.user is a PartnerPrincipal."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(self, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            raise exceptions.ValidationError({HEADER: ["Use 1 to 255 printable ASCII characters."]})
        partner = request.user.partner
        fingerprint = request_fingerprint(request)  # a malformed body raises its 400 here, unstored
        record = _key_record_create(partner=partner, key=key, request=request, fingerprint=fingerprint)
        if record is None:
            record = IdempotencyKey.objects.filter(partner=partner, key=key).first()
            if record is not None and record.request_hash != fingerprint:
                raise IdempotencyMismatch()
            if record is None or record.response_status is None:  # None: swept this instant; retry
                raise IdempotencyInProgress()
            return Response(
                record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
            )
        try:
            try:
                response = handler(self, request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)  # typed error body; re-raises what it cannot handle
        except BaseException:
            IdempotencyKey.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500:
            IdempotencyKey.objects.filter(pk=record.pk).delete()
            return response
        body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
        if isinstance(body, dict):
            # Shown once: a replay answers without it, and it is never kept here in clear.
            body = {name: value for name, value in body.items() if name not in NEVER_STORED}
        IdempotencyKey.objects.filter(pk=record.pk).update(response_status=response.status_code, response_body=body)
        return response

    return wrapper
