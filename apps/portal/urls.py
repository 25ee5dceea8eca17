from django.urls import path

from apps.portal import live, trip_views, views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("password/", views.PortalPasswordChangeView.as_view(), name="password-change"),
    path("password/done/", views.PortalPasswordChangeDoneView.as_view(), name="password-change-done"),
    path("password/reset/", views.PortalPasswordResetView.as_view(), name="password-reset"),
    path("password/reset/sent/", views.PortalPasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PortalPasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password/reset/done/", views.PortalPasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("trips/", trip_views.trip_list, name="trips"),
    path("trips/live/", trip_views.trip_live, name="trip-live"),
    path("trips/<int:trip_id>/", trip_views.trip_detail, name="trip-detail"),
    path("live/", live.stream, name="live"),
    path("live/notices/", live.notices, name="live-notices"),
    path("rewards/", views.rewards, name="rewards"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/export/", views.privacy_export, name="privacy-export"),
    path("notifications/", views.notifications, name="notifications"),
]
