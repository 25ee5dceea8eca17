"""Shared REST plumbing: typed error bodies for every API error, their schema, strict input."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
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
