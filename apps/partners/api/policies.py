from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.examples import page
from apps.partners.api.filters import PolicyFilter
from apps.partners.api.serializers import PolicyCancelInput, PolicyDetailOutput, PolicyInput, PolicyOutput
from apps.partners.idempotency import idempotent
from apps.pricing import selectors, services
from apps.pricing.models import Policy

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
        examples=[OpenApiExample("Policies", value=page(POLICY_EXAMPLE), response_only=True)],
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
