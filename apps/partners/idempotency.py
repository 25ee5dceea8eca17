"""`Idempotency-Key` for every POST of the partner API.

The first response to a (partner, key) is stored with a hash of the request (method, path and the
parsed JSON body). The same key with the same request replays that response (with the header
`Idempotent-Replayed: true`; a webhook registration is replayed without its signing secret, which is
shown once and never stored here); the same key with another request is a 422; a key whose first
request is still running is a 409. Server errors (5xx) are not stored, so they can be retried.
The header is optional: without it a POST is processed as usual.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from django.db import IntegrityError, transaction
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
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    partner=partner,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=fingerprint,
                )
        except IntegrityError:
            record = IdempotencyKey.objects.get(partner=partner, key=key)
            if record.request_hash != fingerprint:
                raise IdempotencyMismatch() from None
            if record.response_status is None:
                raise IdempotencyInProgress() from None
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
