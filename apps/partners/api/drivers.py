from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST
from apps.customers.models import Customer
from apps.partners import selectors
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.examples import SCORE_EXAMPLE, page
from apps.partners.api.filters import DriverFilter, TripFilter
from apps.partners.api.serializers import DriverDetailOutput, DriverOutput, TripOutput
from apps.telematics.models import Trip

DRIVER_EXAMPLE = {
    "id": 1042,
    "first_name": "Lena",
    "last_name": "Schulz",
    "city": "Munich",
    "licence_since": "2011-04-01",
    "has_active_policy": True,
}


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
        examples=[OpenApiExample("A page of drivers", value=page(DRIVER_EXAMPLE), response_only=True)],
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
                value=page(
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
