from django.urls import path

from apps.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("trips/", views.trip_list, name="trips"),
    path("trips/<int:trip_id>/", views.trip_detail, name="trip-detail"),
    path("rewards/", views.rewards, name="rewards"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/export/", views.privacy_export, name="privacy-export"),
    path("notifications/", views.notifications, name="notifications"),
]
