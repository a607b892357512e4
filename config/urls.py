"""Top-level URLs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("accounts.urls")),
    path("", include("auditlog.urls")),
    path("", include("billing.urls")),
    path("", include("settings_app.urls")),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("conversations.urls")),
    path("", include("worksession.urls")),
    path("api/v1/", include("conversations.api_urls")),
]

# JSON 404s under /api/, the usual page elsewhere.
handler404 = "auditlog.api_schema.not_found"
