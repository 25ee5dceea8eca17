from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST
from apps.partners import webhooks
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.examples import page
from apps.partners.api.serializers import WebhookEndpointCreatedOutput, WebhookEndpointInput, WebhookEndpointOutput
from apps.partners.idempotency import idempotent
from apps.partners.models import WebhookEndpoint

WEBHOOK_EXAMPLE = {
    "id": 7,
    "url": "https://hooks.insurer.example/fleetops",
    "events": ["policy.updated", "score.changed"],
    "is_active": True,
    "created_at": "2026-11-20T10:00:00+00:00",
}


class WebhookEndpointListView(PartnerAPIView):
    required_scopes = {"GET": ["policies:write"], "POST": ["policies:write"]}
    serializer_class = WebhookEndpointOutput
    filterset_class = None

    def get_queryset(self):
        if self.is_schema_generation():
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.filter(partner=self.partner).order_by("pk")

    @extend_schema(
        operation_id="webhooks_list",
        summary="The partner's webhook endpoints",
        responses={200: WebhookEndpointOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("Endpoints", value=page(WEBHOOK_EXAMPLE), response_only=True)],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebhookEndpointOutput(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register an HTTPS endpoint for score.changed and/or policy.updated",
        description="The response carries the signing secret once. Each delivery is signed: "
        "`X-FleetOps-Signature: sha256=HMAC_SHA256(secret, X-FleetOps-Timestamp + '.' + raw body)`.",
        request=WebhookEndpointInput,
        responses={201: WebhookEndpointCreatedOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "Register",
                value={"url": "https://hooks.insurer.example/fleetops", "events": ["score.changed", "policy.updated"]},
                request_only=True,
            ),
            OpenApiExample(
                "Registered", value={**WEBHOOK_EXAMPLE, "secret": "whsec_3q…"}, response_only=True, status_codes=["201"]
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhooks.webhook_endpoint_create(partner=self.partner, **data.validated_data)
        body = {**WebhookEndpointOutput(endpoint).data, "secret": secret}
        return Response(WebhookEndpointCreatedOutput(body).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(PartnerAPIView):
    required_scopes = {"GET": ["policies:write"], "DELETE": ["policies:write"]}
    serializer_class = WebhookEndpointOutput

    def _get(self, endpoint_id: int) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.filter(partner=self.partner, pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound("No such webhook endpoint.")
        return endpoint

    @extend_schema(
        operation_id="webhooks_retrieve",
        responses={200: WebhookEndpointOutput, **COMMON_ERRORS},
        examples=[OpenApiExample("Endpoint", value=WEBHOOK_EXAMPLE, response_only=True)],
    )
    def get(self, request, endpoint_id: int):
        self.check_no_query_params(request)
        return Response(WebhookEndpointOutput(self._get(endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_deactivate",
        summary="Stop deliveries to this endpoint",
        responses={200: WebhookEndpointOutput, **COMMON_ERRORS},
        examples=[OpenApiExample("Deactivated", value={**WEBHOOK_EXAMPLE, "is_active": False}, response_only=True)],
    )
    def delete(self, request, endpoint_id: int):
        endpoint = webhooks.webhook_endpoint_deactivate(endpoint=self._get(endpoint_id))
        return Response(WebhookEndpointOutput(endpoint).data)
