"""URLs of Settings > Searches, Shortcuts, Business Rules and Support Access."""

from django.urls import path

from settings_app import views

app_name = "settings_app"

urlpatterns = [
    path("settings/searches/", views.search_list, name="searches"),
    path("settings/searches/new/", views.search_create, name="search_create"),
    path("settings/searches/<int:pk>/", views.search_edit, name="search_edit"),
    path("settings/searches/<int:pk>/delete/", views.search_delete, name="search_delete"),
    path("settings/shortcuts/", views.shortcut_list, name="shortcuts"),
    path("settings/shortcuts/new/", views.shortcut_create, name="shortcut_create"),
    path("settings/shortcuts/<int:pk>/", views.shortcut_edit, name="shortcut_edit"),
    path("settings/shortcuts/<int:pk>/delete/", views.shortcut_delete, name="shortcut_delete"),
    path("settings/business-rules/", views.business_rule_list, name="business_rules"),
    path("settings/business-rules/new/", views.business_rule_create, name="business_rule_create"),
    path("settings/business-rules/<int:pk>/", views.business_rule_edit, name="business_rule_edit"),
    path(
        "settings/business-rules/<int:pk>/toggle/",
        views.business_rule_toggle,
        name="business_rule_toggle",
    ),
    path(
        "settings/business-rules/<int:pk>/delete/",
        views.business_rule_delete,
        name="business_rule_delete",
    ),
    path("settings/support-access/", views.support_access_list, name="support_access"),
    path(
        "settings/support-access/new/",
        views.support_access_grant,
        name="support_access_grant",
    ),
    path(
        "settings/support-access/<int:pk>/",
        views.support_access_edit,
        name="support_access_edit",
    ),
    path(
        "settings/support-access/<int:pk>/revoke/",
        views.support_access_revoke,
        name="support_access_revoke",
    ),
    path(
        "settings/support-access/<int:pk>/delete/",
        views.support_access_delete,
        name="support_access_delete",
    ),
    path("settings/macros/", views.macro_list, name="macros"),
    path("settings/macros/new/", views.macro_create, name="macro_create"),
    path("settings/macros/<int:pk>/", views.macro_edit, name="macro_edit"),
    path("settings/macros/<int:pk>/delete/", views.macro_delete, name="macro_delete"),
]
