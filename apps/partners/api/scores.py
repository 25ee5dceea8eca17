from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST, error_response
from apps.common.exceptions import ApplicationError
from apps.partners import selectors
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.examples import SCORE_EXAMPLE, page
from apps.partners.api.filters import ScoreHistoryFilter
from apps.partners.api.serializers import (
    BatchScoreInput,
    ExplanationOutput,
    JobAcceptedOutput,
    ScoreHistoryOutput,
    ScoreOutput,
)
from apps.partners.idempotency import idempotent
from apps.pricing.models import PartnerJob
from apps.pricing.services import partner_job_start
from apps.risk import selectors as risk_selectors
from apps.risk.models import RiskScore

NO_SCORE = "This driver has no score from the active model yet."
MAX_BATCH = 50000


class DriverScoreView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    serializer_class = ScoreOutput

    @extend_schema(
        operation_id="drivers_score_retrieve",
        summary="The driver's latest safety score (active model)",
        description="Served from Redis when warm; invalidated when the driver is rescored.",
        responses={200: ScoreOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[OpenApiExample("Score", value=SCORE_EXAMPLE, response_only=True)],
    )
    def get(self, request, driver_id: int):
        self.check_no_query_params(request)
        visible, payload = selectors.partner_driver_score(partner=self.partner, driver_id=driver_id)
        if not visible:
            raise NotFound("No such driver.")
        if payload is None:
            raise NotFound(NO_SCORE)
        return Response(payload)


class DriverExplanationView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    serializer_class = ExplanationOutput

    @extend_schema(
        operation_id="drivers_score_explanation_retrieve",
        summary="Why the score is what it is: SHAP contributions and plain reasons",
        responses={200: ExplanationOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "Explanation",
                value={
                    **SCORE_EXAMPLE,
                    "base_value": -2.71,
                    "reasons": ["Few harsh brakes per 100 km", "Little driving at night"],
                    "contributions": [
                        {
                            "feature": "harsh_brake_per_100km",
                            "contribution": -0.21,
                            "value": 0.4,
                            "direction": "lowers risk",
                            "supported": True,
                        },
                        {
                            "feature": "rush_hour_share",
                            "contribution": 0.03,
                            "value": 0.2,
                            "direction": "no supported effect",
                            "supported": False,
                        },
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, driver_id: int):
        self.check_no_query_params(request)
        visible, payload = selectors.partner_driver_explanation(partner=self.partner, driver_id=driver_id)
        if not visible:
            raise NotFound("No such driver.")
        if payload is None:
            raise NotFound(NO_SCORE)
        return Response(payload)


class DriverScoreHistoryView(PartnerAPIView):
    required_scopes = {"GET": ["drivers:read"]}
    filterset_class = ScoreHistoryFilter
    serializer_class = ScoreHistoryOutput

    def get_queryset(self):
        if self.is_schema_generation():
            return RiskScore.objects.none()
        return risk_selectors.driver_score_history(driver_id=self.kwargs["driver_id"])

    @extend_schema(
        operation_id="drivers_score_history_list",
        summary="Every score of the driver, newest first",
        responses={200: ScoreHistoryOutput(many=True), **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "History",
                value=page(
                    {
                        "score_id": 88121,
                        "as_of": "2026-11-20",
                        "safety_score": 81,
                        "band": "low",
                        "expected_claims_per_year": 0.052,
                        "relative_risk": 0.71,
                        "model_version": "xgb-2026-11-20-a1b2",
                        "scored_at": "2026-11-20T04:12:09+00:00",
                    }
                ),
                response_only=True,
            )
        ],
    )
    def get(self, request, driver_id: int):
        self.get_driver_id_or_404(driver_id)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ScoreHistoryOutput(page, many=True).data)


class BatchScoreView(PartnerAPIView):
    required_scopes = {"POST": ["jobs:write"]}
    serializer_class = BatchScoreInput

    @extend_schema(
        operation_id="risk_batch_score_create",
        summary="Rescore the partner's drivers in the background",
        description="Answers 202 with a job id; follow progress at `GET /api/v1/jobs/{id}/`. "
        "Every driver id must be one the partner insures (otherwise 404).",
        request=BatchScoreInput,
        responses={
            202: JobAcceptedOutput,
            **BAD_REQUEST,
            **COMMON_ERRORS,
            409: error_response("The same batch is already queued or running."),
        },
        examples=[
            OpenApiExample("Some drivers", value={"driver_ids": [1042, 1043]}, request_only=True),
            OpenApiExample("All insured drivers", value={}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={"job_id": 311, "status": "queued", "drivers": 2, "url": "/api/v1/jobs/311/"},
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = BatchScoreInput(data=request.data)
        data.is_valid(raise_exception=True)
        visible = selectors.partner_drivers(partner=self.partner)
        wanted = data.validated_data.get("driver_ids")
        if wanted is None:
            driver_ids = list(visible.order_by("pk").values_list("pk", flat=True)[: MAX_BATCH + 1])
        else:
            wanted = sorted(set(wanted))
            driver_ids = list(visible.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
            unknown = sorted(set(wanted) - set(driver_ids))
            if unknown:
                raise NotFound(f"No such driver(s): {', '.join(map(str, unknown[:20]))}.")
        if not driver_ids:
            raise ApplicationError("The partner insures no drivers to score.", code="nothing_to_score")
        if len(driver_ids) > MAX_BATCH:
            raise ApplicationError(f"At most {MAX_BATCH} drivers per batch.", code="batch_too_large")
        try:
            run = partner_job_start(
                partner=self.partner, kind="risk.score_drivers", parameters={"driver_ids": driver_ids}
            ).job
        except ApplicationError as exc:
            if exc.code == "job_already_running":
                own = PartnerJob.objects.filter(partner=self.partner, job_id=exc.extra.get("job_id")).exists()
                return Response(
                    {
                        "type": "job_already_running",
                        "status": 409,
                        "request_id": getattr(request, "request_id", None),
                        "detail": "The same batch is already queued or running.",
                        **({"job_id": exc.extra.get("job_id")} if own else {}),
                    },
                    status=status.HTTP_409_CONFLICT,
                )
            raise
        return Response(
            {"job_id": run.pk, "status": run.status, "drivers": len(driver_ids), "url": f"/api/v1/jobs/{run.pk}/"},
            status=status.HTTP_202_ACCEPTED,
        )
