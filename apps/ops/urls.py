from django.urls import path

from apps.ops import views

app_name = "ops"
urlpatterns = [
    path("", views.command_center, name="command-center"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("revenue/", views.revenue, name="revenue"),
    path("forecast/", views.demand_forecast, name="forecast"),
    path("reports/<str:report>.csv", views.report_csv, name="report-csv"),
]
