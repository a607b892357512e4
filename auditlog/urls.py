"""URLs of the audit log: the viewer page and the REST API."""

urlpatterns: list = []
