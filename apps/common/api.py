"""Shared REST plumbing: typed error bodies for every API error, their schema, strict input, and the
mapping of errors that bad input causes deep inside (parsers, encoders, the database) to a 400 or
413 in that format."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.common.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# At most this much of what the client sent comes back in an error (keys, values, messages).
MAX_ECHO = 100
# Our own messages are shorter than this; a longer one quotes the input and is cut.
MAX_MESSAGE = 200


def short(text, limit: int = MAX_ECHO) -> str:
    """`text` made safe to echo: invalid Unicode escaped, cut to `limit` characters."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def shorten_errors(value):
    """Error data with every key and message cut, so a 100 KB value never comes back whole."""
    if isinstance(value, dict):
        return {short(key): shorten_errors(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shorten_errors(item) for item in value]
    if isinstance(value, str):
        return exceptions.ErrorDetail(short(value, MAX_MESSAGE), getattr(value, "code", None))
    return value


def error_body(request, status_code: int, kind: str, *, errors=None, detail=None, extra=None) -> dict:
    body = {"type": kind, "status": status_code, "request_id": getattr(request, "request_id", None), **(extra or {})}
    if errors is not None:
        body["errors"] = shorten_errors(errors)
    else:
        body["detail"] = shorten_errors(detail)
    return body


def api_error_response(
    request, status_code: int, kind: str, *, errors=None, detail=None, extra=None, headers=None
) -> JsonResponse:
    """The API's error format outside DRF's views (middleware, handlers, the raw upload view)."""
    body = error_body(request, status_code, kind, errors=errors, detail=detail, extra=extra)
    return JsonResponse(body, status=status_code, headers=headers, json_dumps_params={"ensure_ascii": False})


# (exception classes, status, type, field, message): errors of the request, never of the server.
INPUT_ERRORS = (
    ((RequestDataTooBig,), 413, "request_too_large", None, "The request body is larger than this endpoint accepts."),
    ((TooManyFieldsSent, TooManyFilesSent), 413, "too_many_fields", None, "The request has too many fields."),
    ((RecursionError,), 400, "parse_error", "body", "The body is nested too deeply."),
    ((UnicodeError,), 400, "invalid", "body", "Text that is not valid Unicode (for example a lone surrogate)."),
    ((DataError,), 400, "invalid", "body", "A value the database cannot store (a NUL character or out of range)."),
    ((OverflowError,), 400, "invalid", "body", "A number out of range."),
)


def input_error_response(request, exc: BaseException) -> JsonResponse | None:
    """A 400/413 in the API's format for an exception that bad input causes, else None."""
    for classes, status_code, kind, field, message in INPUT_ERRORS:
        if isinstance(exc, classes):
            logger.warning("refused input on %s: %s", request.path, short(repr(exc), MAX_MESSAGE))
            if field is None:
                return api_error_response(request, status_code, kind, detail=message)
            return api_error_response(request, status_code, kind, errors={field: [message]})
    return None


# Business refusals that say the request clashes with what exists: 409, not 400.
CONFLICT_CODES = frozenset({"duplicate", "conflict"})


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# A dependency the request needs is down (the job queue): 503 with Retry-After, nothing done.
UNAVAILABLE_CODES = frozenset({"broker_unavailable"})


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, ApplicationError) and exc.code in CONFLICT_CODES:
        exc = Conflict(exc.message)
    elif isinstance(exc, ApplicationError) and exc.code in UNAVAILABLE_CODES:
        exc = Unavailable(exc.message)
    elif isinstance(exc, ApplicationError):
        exc = exceptions.ValidationError({"detail": exc.message, "code": exc.code, **exc.extra})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        body = error_body(request, 400, getattr(exc, "default_code", "error"), errors=response.data)
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        body = error_body(request, response.status_code, getattr(exc, "default_code", "error"), detail=detail)
    response.data = body
    headers = dict(response.headers)
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers.setdefault("Retry-After", "30")
    return Response(body, status=response.status_code, headers=headers)


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses unknown fields and non-object bodies."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorOutput(serializers.Serializer):
    type = serializers.CharField(help_text="Machine-readable error code.")
    status = serializers.IntegerField()
    request_id = serializers.CharField(help_text="Also in the X-Request-ID header; quote it to support.")
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(required=False, help_text="Field name -> list of messages (400 only).")


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(description=description, response=ErrorOutput)


BAD_REQUEST = {400: error_response("Malformed request: field errors under `errors`.")}
