import orjson
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.views import APIView

from apps.common.api import api_error_response, short
from apps.common.metrics import UPLOADS
from apps.telematics.api.authentication import (
    INVALID_TOKEN,
    DeviceHeaderError,
    DeviceTokenAuthentication,
    IsDevice,
    device_token,
)
from apps.telematics.api.serializers import TripUploadResultSerializer
from apps.telematics.ingest import UploadInvalid, UploadTooLarge, decode_body, parse_csv, parse_json
from apps.telematics.services import ConsentRefused, DeviceRefused, device_authenticate_for_upload, trip_ingest

_UPLOAD_OUTCOMES = {201: "created", 200: "replayed", 401: "unauthorized", 403: "no_consent"}


class RawBodyParser(BaseParser):
    """Leaves the body to the view: it is decoded (gzip), parsed and validated as arrays."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


def _json(status: int, body: dict, **headers) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), content_type="application/json", status=status, headers=headers)


def _error(request, status: int, kind: str, body: dict, **headers) -> HttpResponse:
    """The API's error shape (apps.common.api): type, status, request_id, errors | detail, ..."""
    extra = {name: value for name, value in body.items() if name not in ("errors", "detail")}
    return api_error_response(
        request, status, kind, errors=body.get("errors"), detail=body.get("detail"), extra=extra, headers=headers
    )


def _unauthorized(request, kind: str, detail: str) -> HttpResponse:
    return api_error_response(
        request, 401, kind, detail=detail, headers={"WWW-Authenticate": DeviceTokenAuthentication.keyword}
    )


class TripUploadView(APIView):
    """A device uploads one whole trip: JSON (rows or columns, optionally gzip) or CSV."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsDevice]
    parser_classes = [RawBodyParser]
    throttle_classes: list = []
    # The common API boundary leaves the body to this view (its own size limit and parsers).
    raw_body = True

    @extend_schema(
        operation_id="telematics_trip_upload",
        request={"application/json": dict, "text/csv": str},
        parameters=[
            OpenApiParameter("external_id", str, description="CSV bodies: the device's trip id"),
            OpenApiParameter("vehicle", int, description="CSV bodies: vehicle id"),
            OpenApiParameter("driver", int, description="CSV bodies: driver (customer) id"),
        ],
        responses={
            201: TripUploadResultSerializer,
            200: OpenApiResponse(TripUploadResultSerializer, description="The trip was uploaded before."),
            400: OpenApiResponse(description="Malformed body: `field` and `index` of the first problem."),
            413: OpenApiResponse(description="The body (or its gzip-decoded form) is larger than the limit."),
            415: OpenApiResponse(description="A Content-Type other than application/json or text/csv."),
            401: OpenApiResponse(description="Missing, invalid, revoked or inactive device token."),
            403: OpenApiResponse(description="The driver's telematics consent is not in force."),
        },
    )
    def post(self, request):  # documents the endpoint; uploads are handled by dispatch
        return self.upload(request)

    def dispatch(self, request, *args, **kwargs):
        """POST is served on Django's own request, without DRF's request wrapper, content
        negotiation and serializers: for a 1,200-sample trip those cost more than parsing and
        cleaning the samples. The class stays an APIView so the OpenAPI schema documents the
        endpoint, and every other method goes through DRF as usual (405, OPTIONS)."""
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        return self.upload(request)

    def upload(self, request) -> HttpResponse:
        response = self._upload(request)
        UPLOADS.labels(_UPLOAD_OUTCOMES.get(response.status_code, "refused")).inc()
        return response

    def _upload(self, request) -> HttpResponse:
        try:
            raw_token = device_token(request.META.get("HTTP_AUTHORIZATION", ""))
        except DeviceHeaderError as exc:
            return _unauthorized(request, exc.kind, exc.detail)
        device = device_authenticate_for_upload(raw_token=raw_token)
        if device is None:
            return _unauthorized(request, "authentication_failed", INVALID_TOKEN)
        limit = settings.TELEMATICS["MAX_BODY_BYTES"]
        raw = request.read(limit + 1)
        try:
            if len(raw) > limit:
                raise UploadTooLarge(f"the body is larger than {limit} bytes", field="body")
            body = decode_body(raw, request.META.get("HTTP_CONTENT_ENCODING", ""))
            content_type = request.content_type.strip().lower()
            if content_type in ("text/csv", "application/csv"):
                upload = parse_csv(
                    body,
                    external_id=request.GET.get("external_id"),
                    vehicle=request.GET.get("vehicle"),
                    driver=request.GET.get("driver"),
                )
            elif content_type in ("application/json", ""):
                upload = parse_json(body)
            else:
                return api_error_response(
                    request,
                    415,
                    "unsupported_media_type",
                    detail=f"Unsupported Content-Type {short(content_type)!r}; use application/json or text/csv.",
                )
            result = trip_ingest(device=device, upload=upload)
        except UploadTooLarge as exc:
            return api_error_response(request, 413, "request_too_large", detail=exc.message)
        except UploadInvalid as exc:
            return api_error_response(request, 400, "invalid", errors={"detail": exc.message, **exc.extra})
        except ConsentRefused as exc:
            return api_error_response(request, 403, "permission_denied", detail=exc.message, extra={"reason": exc.code})
        except DeviceRefused as exc:
            return _unauthorized(request, "authentication_failed", exc.message)
        return _json(201 if result.created else 200, result.as_dict())
