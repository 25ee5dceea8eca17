from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.examples import page
from apps.partners.api.filters import QuoteFilter
from apps.partners.api.serializers import QuoteInput, QuoteOutput
from apps.partners.idempotency import idempotent
from apps.pricing import selectors, services
from apps.pricing.models import Quote

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
        examples=[OpenApiExample("Quotes", value=page(QUOTE_EXAMPLE), response_only=True)],
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
