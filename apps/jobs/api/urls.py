from django.urls import path

from apps.jobs.api import views

urlpatterns = [
    path("jobs/<int:job_id>/", views.JobDetailView.as_view(), name="job"),
]
