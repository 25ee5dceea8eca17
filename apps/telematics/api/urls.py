from django.urls import path

from apps.telematics.api.positions import osmand, positions_batch
from apps.telematics.api.views import TripUploadView

urlpatterns = [
    path("trips", TripUploadView.as_view(), name="telematics-trip-upload"),
    path("osmand", osmand, name="telematics-osmand"),
    path("osmand/<str:key>", osmand, name="telematics-osmand-key"),
    path("positions", positions_batch, name="telematics-positions"),
]
