from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts import selectors, webhooks
from apps.accounts.api.base import BAD_REQUEST, COMMON_ERRORS, PartnerAPIView
from apps.accounts.api.filters import DriverFilter, TripFilter
from apps.accounts.api.serializers import (
    DriverDetailOutput,
    DriverOutput,
    TripOutput,
    WebhookEndpointCreatedOutput,
    WebhookEndpointInput,
    WebhookEndpointOutput,
)
from apps.accounts.idempotency import idempotent
from apps.accounts.models import WebhookEndpoint
from apps.customers.models import Customer
from apps.telematics.models import Trip

DRIVER_EXAMPLE = {
    "id": 1042,
    "first_name": "Lena",
    "last_name": "Schulz",
    "city": "Munich",
    "licence_since": "2011-04-01",
    "has_active_policy": True,
}
SCORE_EXAMPLE = {
    "driver_id": 1042,
    "score_id": 88121,
    "safety_score": 81,
    "band": "low",
    "expected_claims_per_year": 0.052,
    "relative_risk": 0.71,
    "as_of": "2026-11-20",
    "model_version": "xgb-2026-11-20-a1b2",
    "scored_at": "2026-11-20T04:12:09+00:00",
}


def _page(example: dict) -> dict:
    return {"count": 1, "next": None, "previous": None, "results": [example]}


class DriverListView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    filterset_class = DriverFilter
    serializer_class = DriverOutput

    def get_queryset(self):
        if self.is_schema_generation():
            return Customer.objects.none()
        return selectors.partner_driver_list(partner=self.partner)

    @extend_schema(
        operation_id="drivers_list",
        summary="Drivers the partner insures or insured",
        responses={200: DriverOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("A page of drivers", value=_page(DRIVER_EXAMPLE), response_only=True)],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DriverOutput(page, many=True).data)


class DriverDetailView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    serializer_class = DriverDetailOutput

    @extend_schema(
        operation_id="drivers_retrieve",
        summary="One driver, with the latest score",
        responses={200: DriverDetailOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "A driver",
                value={**DRIVER_EXAMPLE, "score": SCORE_EXAMPLE, "policy_ids": [5521]},
                response_only=True,
            )
        ],
    )
    def get(self, request, driver_id: int):
        self.check_no_query_params(request)
        driver = selectors.partner_driver_list(partner=self.partner).filter(pk=driver_id).first()
        if driver is None:
            raise NotFound("No such driver.")
        driver.score = selectors.driver_score_cached(driver_id=driver.pk)
        driver.policy_ids = selectors.partner_driver_policy_ids(partner=self.partner, driver_id=driver.pk)
        return Response(DriverDetailOutput(driver).data)


class DriverTripListView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    filterset_class = TripFilter
    serializer_class = TripOutput

    def get_queryset(self):
        if self.is_schema_generation():
            return Trip.objects.none()
        return (
            Trip.objects.filter(driver_id=self.kwargs["driver_id"])
            .only(*TripOutput().fields.keys())
            .order_by("-started_at", "-pk")
        )

    @extend_schema(
        operation_id="drivers_trips_list",
        summary="A driver's trips (summary features, no GPS samples)",
        responses={200: TripOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "A page of trips",
                value=_page(
                    {
                        "id": 90211,
                        "started_at": "2026-11-19T07:42:00+01:00",
                        "ended_at": "2026-11-19T08:05:31+01:00",
                        "distance_km": 18.4,
                        "duration_s": 1411.0,
                        "mean_speed_mps": 13.0,
                        "max_speed_mps": 31.2,
                        "harsh_brake_count": 1,
                        "harsh_accel_count": 0,
                        "harsh_corner_count": 0,
                        "speeding_s": 12.0,
                        "phone_use_s": 0.0,
                        "night_s": 0.0,
                        "score": 88,
                    }
                ),
                response_only=True,
            )
        ],
    )
    def get(self, request, driver_id: int):
        self.get_driver_id_or_404(driver_id)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TripOutput(page, many=True).data)


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
        examples=[OpenApiExample("Endpoints", value=_page(WEBHOOK_EXAMPLE), response_only=True)],
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
        endpoint = webhooks.webhook_endpoint_create(partner=self.partner, **data.validated_data)
        return Response(WebhookEndpointCreatedOutput(endpoint).data, status=status.HTTP_201_CREATED)


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
