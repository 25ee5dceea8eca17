from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.telematics.api.authentication import DeviceTokenAuthentication, IsDevice
from apps.telematics.api.serializers import TripUploadResultSerializer
from apps.telematics.ingest import UploadInvalid, decode_body, parse_csv, parse_json
from apps.telematics.services import ConsentRefused, trip_ingest


class RawBodyParser(BaseParser):
    """Leaves the body to the view: it is decoded (gzip), parsed and validated as arrays."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


def _error(request, code: int, kind: str, body: dict) -> Response:
    return Response(
        {"type": kind, "status": code, "request_id": getattr(request, "request_id", None), **body}, status=code
    )


class TripUploadView(APIView):
    """A device uploads one whole trip: JSON (rows or columns, optionally gzip) or CSV."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsDevice]
    parser_classes = [RawBodyParser]
    throttle_classes: list = []

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
            403: OpenApiResponse(description="The driver's telematics consent is not in force."),
        },
    )
    def post(self, request):
        from django.conf import settings

        limit = settings.TELEMATICS["MAX_BODY_BYTES"]
        stream = request.stream
        raw = stream.read(limit + 1) if stream is not None else b""
        try:
            if len(raw) > limit:
                raise UploadInvalid(f"the body is larger than {limit} bytes", field="body")
            body = decode_body(raw, request.headers.get("Content-Encoding", ""))
            content_type = (request.content_type or "").split(";")[0].strip().lower()
            if content_type in ("text/csv", "application/csv"):
                upload = parse_csv(
                    body,
                    external_id=request.query_params.get("external_id"),
                    vehicle=request.query_params.get("vehicle"),
                    driver=request.query_params.get("driver"),
                )
            elif content_type in ("application/json", ""):
                upload = parse_json(body)
            else:
                raise UploadInvalid(
                    f"unsupported Content-Type {content_type!r}; use application/json or text/csv",
                    field="Content-Type",
                )
            result = trip_ingest(device=request.auth, upload=upload)
        except UploadInvalid as exc:
            return _error(request, 400, "invalid", {"errors": {"detail": exc.message, **exc.extra}})
        except ConsentRefused as exc:
            return _error(request, 403, "permission_denied", {"detail": exc.message, "reason": exc.code})
        data = TripUploadResultSerializer(result.as_dict()).data
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
