from django.urls import path

from apps.telematics.api.views import TripUploadView

urlpatterns = [
    path("trips", TripUploadView.as_view(), name="telematics-trip-upload"),
]
