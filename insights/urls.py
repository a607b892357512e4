"""URLs of the pages built on the audit record: History, agent timelines, Team Pulse and the
connectivity report."""

from django.urls import path

from insights import agent_views, history_views

urlpatterns = [
    path(
        "settings/security/audit-log/history/<str:subject_type>/<int:subject_id>/",
        history_views.object_history,
        name="audit_history",
    ),
    path(
        "settings/security/audit-log/history/<str:subject_type>/<int:subject_id>/restore/",
        history_views.object_restore,
        name="audit_history_restore",
    ),
    path(
        "settings/work/agents/<int:agent_id>/timeline/",
        agent_views.agent_timeline,
        name="work_timeline",
    ),
    path("settings/work/connectivity/", agent_views.connectivity_report, name="work_connectivity"),
    path("settings/work/pulse/", agent_views.team_pulse, name="work_pulse"),
    path("settings/work/pulse.json", agent_views.team_pulse_json, name="work_pulse_json"),
]
