from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.common.api import BAD_REQUEST
from apps.jobs.models import JobRun
from apps.partners.api.base import COMMON_ERRORS, PartnerAPIView
from apps.partners.api.serializers import JobOutput


class JobDetailView(PartnerAPIView):
    required_scopes = {"GET": ["jobs:write", "drivers:read"]}
    serializer_class = JobOutput

    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Progress of a job the partner started",
        responses={200: JobOutput, **BAD_REQUEST, **COMMON_ERRORS},
        examples=[
            OpenApiExample(
                "Running",
                value={
                    "id": 311,
                    "kind": "risk.score_drivers",
                    "status": "running",
                    "progress_done": 1000,
                    "progress_total": 2400,
                    "progress_note": "scoring",
                    "created_at": "2026-11-20T10:00:00+00:00",
                    "started_at": "2026-11-20T10:00:01+00:00",
                    "finished_at": None,
                    "result": {},
                    "failed": False,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, job_id: int):
        self.check_no_query_params(request)
        run = JobRun.objects.filter(pk=job_id, partner_link__partner=self.partner).defer("error").first()
        if run is None:
            raise NotFound("No such job.")
        return Response(JobOutput(run).data)
