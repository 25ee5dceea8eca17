from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common import views as common_views
from apps.common.metrics import metrics_view

api_v1 = [
    path("", include("apps.partners.api.urls")),
    path("telematics/", include("apps.telematics.api.urls")),
    path("", include("apps.ops.api.urls")),
]

urlpatterns = [
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", common_views.favicon),
    path("healthz", common_views.healthz, name="healthz"),
    path("readyz", common_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("ops/", include("apps.ops.urls")),
    path("portal/", include("apps.portal.urls")),
]

admin.site.site_header = "FleetOps back office"
admin.site.site_title = "FleetOps"
admin.site.index_title = "Operations"
# "View site" in the admin leads to the ops pages.
admin.site.site_url = "/ops/"

handler400 = "apps.common.views.bad_request"
handler403 = "apps.common.views.permission_denied"
handler404 = "apps.common.views.page_not_found"
handler500 = "apps.common.views.server_error"
