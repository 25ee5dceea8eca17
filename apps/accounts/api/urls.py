from django.urls import path

from apps.accounts.api import views

urlpatterns = [
    path("drivers/", views.DriverListView.as_view(), name="drivers"),
    path("drivers/<int:driver_id>/", views.DriverDetailView.as_view(), name="driver"),
    path("drivers/<int:driver_id>/trips/", views.DriverTripListView.as_view(), name="driver-trips"),
    path("webhooks/", views.WebhookEndpointListView.as_view(), name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.WebhookEndpointDetailView.as_view(), name="webhook"),
]
