"""URLs of the agent workspace and Settings > Routing."""

from django.urls import path

from worksession import views

app_name = "worksession"

urlpatterns = [
    path("workspace/", views.workspace, name="workspace"),
    path("workspace/status/", views.status_set, name="status"),
    path("workspace/heartbeat/", views.heartbeat, name="heartbeat"),
    path("settings/routing/", views.routing, name="routing"),
    path("settings/routing/<int:pk>/capacity/", views.capacity_set, name="capacity"),
]
