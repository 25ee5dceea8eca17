from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.api.base import BAD_REQUEST, COMMON_ERRORS, PartnerAPIView
from apps.accounts.api.views import _page
from apps.accounts.idempotency import idempotent
from apps.pricing import selectors, services
from apps.pricing.api.filters import PolicyFilter, QuoteFilter
from apps.pricing.api.serializers import (
    PolicyCancelInput,
    PolicyDetailOutput,
    PolicyInput,
    PolicyOutput,
    QuoteInput,
    QuoteOutput,
)
from apps.pricing.models import Policy, Quote

QUOTE_EXAMPLE = {
    "id": 20931,
    "driver_id": 1042,
    "kind": "phyd",
    "currency": "EUR",
    "vehicle_category": "SUV",
    "region": "BAY",
    "traditional_premium": "900.00",
    "telematics_factor": "0.8000",
    "telematics_premium": "720.00",
    "discount": "180.00",
    "per_km_rate": "0.0000",
    "payd_part": "0.00",
    "annual_premium": "720.00",
    "daily_price": "2.56",
    "breakdown": [
        {"step": "base_premium", "label": "Base annual premium (SUV/BY)", "amount": "900.00"},
        {"step": "experience_factor", "label": "Driving licence held 15 years (band from 10)", "factor": "1.0000"},
        {"step": "vehicle_age_factor", "label": "Vehicle 0 years old (band from 0)", "factor": "1.0000"},
        {"step": "traditional_premium", "label": "Base x experience x vehicle age", "amount": "900.00"},
        {
            "step": "eligibility",
            "label": "Telematics pricing applies",
            "eligible": True,
            "trips_in_window": 41,
            "km_in_window": 2310.5,
        },
        {
            "step": "telematics_factor",
            "label": "Relative risk 0.64 ^ 0.500 = 0.8000 (bounds 0.5500..1.4000)",
            "relative_risk": 0.64,
            "factor": "0.8000",
        },
        {"step": "telematics_premium", "label": "Premium after telematics", "amount": "720.00"},
        {"step": "annual_premium", "label": "Annual premium; discount 180.00", "amount": "720.00"},
        {"step": "daily_price", "label": "Per rental day: annual / 365 x loading 1.300", "amount": "2.56"},
    ],
    "reasons": [{"text": "Few harsh brakes per 100 km"}, {"text": "Little driving at night"}],
    "rate_plan": {"name": "standard", "version": 3},
    "model_version": "xgb-2026-11-20-a1b2",
    "risk_score_id": 88121,
    "inputs_hash": "5f1c…",
    "created_at": "2026-11-20T10:00:00+00:00",
    "valid_until": "2026-12-20T10:00:00+00:00",
}
POLICY_EXAMPLE = {
    "id": 5521,
    "driver_id": 1042,
    "quote_id": 20931,
    "kind": "phyd",
    "status": "active",
    "starts_on": "2026-11-20",
    "ends_on": "2027-11-19",
    "annual_premium": "720.00",
    "bound_at": "2026-11-20T10:02:00+00:00",
    "cancelled_at": None,
    "cancel_reason": "",
}
HISTORY_EXAMPLE = [
    {
        "reason": "requote",
        "previous_premium": "720.00",
        "annual_premium": "684.00",
        "quote_id": 21877,
        "created_at": "2026-12-01T04:31:00+00:00",
    },
    {
        "reason": "bound",
        "previous_premium": None,
        "annual_premium": "720.00",
        "quote_id": 20931,
        "created_at": "2026-11-20T10:02:00+00:00",
    },
]


class QuoteListView(PartnerAPIView):
    required_scopes = {"GET": ["quotes:write", "drivers:read"], "POST": ["quotes:write"]}
    filterset_class = QuoteFilter
    serializer_class = QuoteOutput

    def get_queryset(self):
        if self.is_schema_generation():
            return Quote.objects.none()
        return selectors.partner_quotes(partner=self.partner).order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="quotes_list",
        summary="The partner's quotes",
        responses={200: QuoteOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("Quotes", value=_page(QUOTE_EXAMPLE), response_only=True)],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(QuoteOutput(page, many=True).data)

    @extend_schema(
        operation_id="quotes_create",
        summary="Price a policy for an insured driver",
        description="201 with a new quote, or 200 with the still-valid quote of identical inputs. "
        "Send `Idempotency-Key` to make retries safe.",
        request=QuoteInput,
        responses={201: QuoteOutput, 200: QuoteOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "PHYD quote",
                value={"driver_id": 1042, "vehicle_category": "SUV", "region": "BAY", "kind": "phyd"},
                request_only=True,
            ),
            OpenApiExample(
                "PAYD quote for an older vehicle",
                value={
                    "driver_id": 1042,
                    "vehicle_category": "COMP",
                    "region": "BER",
                    "kind": "payd",
                    "vehicle_age_years": 6,
                },
                request_only=True,
            ),
            OpenApiExample("Quote", value=QUOTE_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
    )
    @idempotent
    def post(self, request):
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        driver_id = self.get_driver_id_or_404(v["driver_id"])
        quote = services.quote_create(
            driver=driver_id,
            vehicle_category=v["vehicle_category"],
            region=v["region"],
            kind=v["kind"],
            partner=self.partner,
            vehicle_age_years=v.get("vehicle_age_years", 0),
        )
        code = status.HTTP_200_OK if getattr(quote, "reused", False) else status.HTTP_201_CREATED
        return Response(QuoteOutput(quote).data, status=code)


class QuoteDetailView(PartnerAPIView):
    required_scopes = {"GET": ["quotes:write", "drivers:read"]}
    serializer_class = QuoteOutput

    @extend_schema(
        operation_id="quotes_retrieve",
        responses={200: QuoteOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("Quote", value=QUOTE_EXAMPLE, response_only=True)],
    )
    def get(self, request, quote_id: int):
        self.check_no_query_params(request)
        quote = selectors.partner_quotes(partner=self.partner).filter(pk=quote_id).first()
        if quote is None:
            raise NotFound("No such quote.")
        return Response(QuoteOutput(quote).data)


class PolicyListView(PartnerAPIView):
    required_scopes = {"GET": ["policies:write", "drivers:read"], "POST": ["policies:write"]}
    filterset_class = PolicyFilter
    serializer_class = PolicyOutput

    def get_queryset(self):
        if self.is_schema_generation():
            return Policy.objects.none()
        return selectors.partner_policies(partner=self.partner).order_by("-bound_at", "-pk")

    @extend_schema(
        operation_id="policies_list",
        summary="The partner's policies",
        responses={200: PolicyOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("Policies", value=_page(POLICY_EXAMPLE), response_only=True)],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PolicyOutput(page, many=True).data)

    @extend_schema(
        operation_id="policies_create",
        summary="Bind a valid quote into a one-year policy",
        request=PolicyInput,
        responses={201: PolicyDetailOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample("Bind", value={"quote_id": 20931, "starts_on": "2026-12-01"}, request_only=True),
            OpenApiExample(
                "Bound",
                value={**POLICY_EXAMPLE, "premium_history": HISTORY_EXAMPLE[1:]},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = selectors.partner_quotes(partner=self.partner).filter(pk=data.validated_data["quote_id"]).first()
        if quote is None:
            raise NotFound("No such quote.")
        policy = services.policy_bind(quote=quote, partner=self.partner, starts_on=data.validated_data.get("starts_on"))
        return Response(PolicyDetailOutput(_with_history(policy)).data, status=status.HTTP_201_CREATED)


def _with_history(policy: Policy) -> Policy:
    policy.premium_changes_list = list(selectors.premium_history(driver_id=policy.driver_id).filter(policy=policy))
    return policy


class PolicyDetailView(PartnerAPIView):
    required_scopes = {"GET": ["policies:write", "drivers:read"]}
    serializer_class = PolicyDetailOutput

    @extend_schema(
        operation_id="policies_retrieve",
        summary="A policy with its premium history",
        responses={200: PolicyDetailOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample("Policy", value={**POLICY_EXAMPLE, "premium_history": HISTORY_EXAMPLE}, response_only=True)
        ],
    )
    def get(self, request, policy_id: int):
        self.check_no_query_params(request)
        policy = selectors.partner_policies(partner=self.partner).filter(pk=policy_id).first()
        if policy is None:
            raise NotFound("No such policy.")
        return Response(PolicyDetailOutput(_with_history(policy)).data)


class PolicyCancelView(PartnerAPIView):
    required_scopes = {"POST": ["policies:write"]}
    serializer_class = PolicyCancelInput

    @extend_schema(
        operation_id="policies_cancel",
        summary="Cancel an active policy",
        request=PolicyCancelInput,
        responses={200: PolicyDetailOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample("Cancel", value={"reason": "Customer moved abroad"}, request_only=True),
            OpenApiExample(
                "Cancelled",
                value={
                    **POLICY_EXAMPLE,
                    "status": "cancelled",
                    "cancelled_at": "2027-01-05T09:00:00+00:00",
                    "cancel_reason": "Customer moved abroad",
                    "premium_history": HISTORY_EXAMPLE,
                },
                response_only=True,
            ),
        ],
    )
    @idempotent
    def post(self, request, policy_id: int):
        data = PolicyCancelInput(data=request.data if request.data else {})
        data.is_valid(raise_exception=True)
        policy = selectors.partner_policies(partner=self.partner).filter(pk=policy_id).first()
        if policy is None:
            raise NotFound("No such policy.")
        policy = services.policy_cancel(policy=policy, reason=data.validated_data.get("reason", ""))
        return Response(PolicyDetailOutput(_with_history(policy)).data)
