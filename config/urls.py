"""Top-level URLs."""

from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views

# Swagger UI with its start-up script served as a file (the split view) and its page styles in
# static/css/api-docs.css; its own stylesheet draws icons from data: URLs.
api_docs = csp_update({"img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html")
)

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("accounts.urls")),
    path("", include("audit_web.urls")),
    path("", include("billing.urls")),
    path("", include("settings_app.urls")),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("", include("conversations.urls")),
    path("", include("worksession.urls")),
    path("", include("insights.urls")),
    path("api/v1/", include("conversations.api_urls")),
]

# JSON under /api/, a page that leaks nothing elsewhere, rendered without the database.
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
