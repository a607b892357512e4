"""URLs of the audit log: the viewer page, the page of one event and the REST API."""

from django.urls import path, re_path

from audit_web import api, event_view, integrity_api, saved_views, views, volume_view

urlpatterns: list = [
    path("settings/security/audit-log/", views.audit_log, name="audit_log"),
    path(
        "settings/security/audit-log/volume.svg",
        volume_view.audit_log_volume,
        name="audit_log_volume",
    ),
    path(
        "settings/security/audit-log/events/<str:id>/",
        event_view.audit_event,
        name="audit_event",
    ),
    path("api/v1/audit-events/", api.AuditEventListView.as_view(), name="api-audit-events"),
    re_path(
        r"^api/v1/audit-events/export\.(?P<fmt>csv|ndjson)$",
        api.AuditEventExportView.as_view(),
        name="api-audit-events-export",
    ),
    path(
        "api/v1/audit-events/<str:id>/",
        api.AuditEventDetailView.as_view(),
        name="api-audit-event",
    ),
    path(
        "api/v1/audit-integrity/",
        integrity_api.AuditIntegrityView.as_view(),
        name="api-audit-integrity",
    ),
    path(
        "api/v1/audit-integrity/digests/",
        integrity_api.AuditDigestListView.as_view(),
        name="api-audit-integrity-digests",
    ),
    path(
        "api/v1/audit-integrity/digests/download/",
        integrity_api.AuditDigestDownloadView.as_view(),
        name="api-audit-integrity-digests-download",
    ),
    path("api/v1/exports/", api.ExportListView.as_view(), name="api-exports"),
    path("api/v1/exports/<str:pk>/", api.ExportDetailView.as_view(), name="api-export-detail"),
    path(
        "api/v1/exports/<str:pk>/download",
        api.ExportDownloadView.as_view(),
        name="api-export-download",
    ),
    path("settings/security/audit-log/views/", saved_views.saved_view_save, name="audit_view_save"),
    path(
        "settings/security/audit-log/views/<int:pk>/delete/",
        saved_views.saved_view_remove,
        name="audit_view_delete",
    ),
    path("api/v1/saved-views/", saved_views.SavedViewListView.as_view(), name="api-saved-views"),
    path(
        "api/v1/saved-views/<int:pk>/",
        saved_views.SavedViewDetailView.as_view(),
        name="api-saved-view",
    ),
]
