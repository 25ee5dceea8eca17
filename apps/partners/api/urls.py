from django.urls import path

from apps.partners.api import drivers, jobs, policies, quotes, scores, webhooks

urlpatterns = [
    path("drivers/", drivers.DriverListView.as_view(), name="drivers"),
    path("drivers/<int:driver_id>/", drivers.DriverDetailView.as_view(), name="driver"),
    path("drivers/<int:driver_id>/trips/", drivers.DriverTripListView.as_view(), name="driver-trips"),
    path("webhooks/", webhooks.WebhookEndpointListView.as_view(), name="webhooks"),
    path("webhooks/<int:endpoint_id>/", webhooks.WebhookEndpointDetailView.as_view(), name="webhook"),
    path("drivers/<int:driver_id>/score/", scores.DriverScoreView.as_view(), name="driver-score"),
    path(
        "drivers/<int:driver_id>/score/explanation/",
        scores.DriverExplanationView.as_view(),
        name="driver-score-explanation",
    ),
    path(
        "drivers/<int:driver_id>/score/history/", scores.DriverScoreHistoryView.as_view(), name="driver-score-history"
    ),
    path("risk/batch-score/", scores.BatchScoreView.as_view(), name="risk-batch-score"),
    path("quotes/", quotes.QuoteListView.as_view(), name="quotes"),
    path("quotes/<int:quote_id>/", quotes.QuoteDetailView.as_view(), name="quote"),
    path("policies/", policies.PolicyListView.as_view(), name="policies"),
    path("policies/<int:policy_id>/", policies.PolicyDetailView.as_view(), name="policy"),
    path("policies/<int:policy_id>/cancel/", policies.PolicyCancelView.as_view(), name="policy-cancel"),
    path("jobs/<int:job_id>/", jobs.JobDetailView.as_view(), name="job"),
]
