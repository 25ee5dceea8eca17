from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.alerts.selectors import event_live_counts
from apps.fleet.selectors import vehicle_status_counts
from apps.ops.api.permissions import StaffOrScopedToken
from apps.ops.api.serializers import MetricsOutput, MetricsQuery
from apps.partners.authentication import PartnerTokenAuthentication
from apps.regions.selectors import company_metrics, region_metrics_rollup


class MetricsView(APIView):
    """Company and region KPIs from the nightly StoreDailyMetrics, live alert counts and the fleet
    by status. For staff sessions and API tokens with the `metrics:read` scope."""

    # token first: its WWW-Authenticate header makes a bad key a 401, not a 403
    authentication_classes = [PartnerTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [StaffOrScopedToken]
    required_scope = "metrics:read"

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="YYYY-MM-DD, default 30 days before date_to"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="YYYY-MM-DD, default yesterday"),
        ],
        responses=MetricsOutput,
        tags=["metrics"],
    )
    def get(self, request):
        query = MetricsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        first, last = period["date_from"], period["date_to"]
        data = {
            "date_from": first,
            "date_to": last,
            "company": company_metrics(first_day=first, last_day=last),
            "regions": region_metrics_rollup(first_day=first, last_day=last),
            "open_alerts": event_live_counts(),
            "fleet_by_status": vehicle_status_counts(),
        }
        return Response(MetricsOutput(data).data)
