from django.urls import path

from apps.risk.api import views

urlpatterns = [
    path("drivers/<int:driver_id>/score/", views.DriverScoreView.as_view(), name="driver-score"),
    path(
        "drivers/<int:driver_id>/score/explanation/",
        views.DriverExplanationView.as_view(),
        name="driver-score-explanation",
    ),
    path("drivers/<int:driver_id>/score/history/", views.DriverScoreHistoryView.as_view(), name="driver-score-history"),
    path("risk/batch-score/", views.BatchScoreView.as_view(), name="risk-batch-score"),
]
