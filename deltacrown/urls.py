"""URL configuration: the API under /api/, operations endpoints, the Django admin."""

from django.contrib import admin
from django.urls import include, path

from apps.common import operations
from apps.common.api.schema import SchemaView, SwaggerUiView

urlpatterns = [
    path("api/", include("apps.tournaments.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerUiView.as_view(), name="swagger-ui"),
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("metrics", operations.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]

handler400 = "apps.common.api.errors.handler400"
handler403 = "apps.common.api.errors.handler403"
handler404 = "apps.common.api.errors.handler404"
handler500 = "apps.common.api.errors.handler500"
