from django.urls import path

from apps.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("trips/", views.trip_list, name="trips"),
    path("trips/<int:trip_id>/", views.trip_detail, name="trip-detail"),
]
