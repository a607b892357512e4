"""URLs of the audit log: the viewer page and the REST API."""

from django.urls import path

from auditlog import views

urlpatterns: list = [
    path("settings/security/audit-log/", views.audit_log, name="audit_log"),
]
