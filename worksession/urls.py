"""URLs of the agent workspace and Settings > Routing."""

from django.urls import path

from worksession import insight_views, views

app_name = "worksession"

urlpatterns = [
    path("workspace/", views.workspace, name="workspace"),
    path("workspace/status/", views.status_set, name="status"),
    path("workspace/heartbeat/", views.heartbeat, name="heartbeat"),
    path("settings/routing/", views.routing, name="routing"),
    path("settings/routing/<int:pk>/capacity/", views.capacity_set, name="capacity"),
    path(
        "settings/work/agents/<int:agent_id>/timeline/",
        insight_views.agent_timeline,
        name="timeline",
    ),
    path("settings/work/connectivity/", insight_views.connectivity_report, name="connectivity"),
    path("settings/work/pulse/", insight_views.team_pulse, name="pulse"),
    path("settings/work/pulse.json", insight_views.team_pulse_json, name="pulse_json"),
]
