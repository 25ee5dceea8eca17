from django.urls import path

from apps.ops.api.views import MetricsView

urlpatterns = [
    path("metrics/", MetricsView.as_view(), name="metrics"),
]
