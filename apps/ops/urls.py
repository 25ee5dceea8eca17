from django.urls import path

from apps.ops.views import alerts, command_center, fleet, jobs, live, live_map, payments, rental_fraud, reports, risk

app_name = "ops"
urlpatterns = [
    path("", command_center.command_center, name="command-center"),
    path("feed/", command_center.alert_feed, name="alert-feed"),
    path("live/", live.stream, name="live"),
    path("alerts/", alerts.alert_list, name="alerts"),
    path("alerts/<int:pk>/", alerts.alert_detail, name="alert"),
    path("alerts/<int:pk>/act/", alerts.alert_act, name="alert-act"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/start/", jobs.job_start, name="job-start"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("fraud/payments/", payments.payments_fraud, name="payments-fraud"),
    path("fraud/payments/list/", payments.payment_list, name="payments"),
    path("fraud/rentals/", rental_fraud.rental_fraud, name="rental-fraud"),
    path("fleet/", fleet.fleet, name="fleet"),
    path("fleet/<int:pk>/", fleet.vehicle, name="vehicle"),
    path("map/", live_map.live_map, name="live-map"),
    path("map/positions/", live_map.live_map_positions, name="live-map-positions"),
    path("risk/", risk.risk, name="risk"),
    path("maintenance/", reports.maintenance, name="maintenance"),
    path("revenue/", reports.revenue, name="revenue"),
    path("forecast/", reports.demand_forecast, name="forecast"),
    path("reports/<str:report>.csv", reports.report_csv, name="report-csv"),
]
