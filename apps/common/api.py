"""Shared REST plumbing: typed error bodies for every API error."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.common.exceptions import ApplicationError


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, ApplicationError):
        exc = exceptions.ValidationError({"detail": exc.message, "code": exc.code, **exc.extra})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    body = {
        "type": getattr(exc, "default_code", "error"),
        "status": response.status_code,
        "request_id": getattr(request, "request_id", None),
    }
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        body["errors"] = response.data
    else:
        body["detail"] = response.data.get("detail") if isinstance(response.data, dict) else response.data
    response.data = body
    return Response(body, status=response.status_code, headers=dict(response.headers))
