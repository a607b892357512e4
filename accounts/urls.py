"""URLs for sign-in and the organisation, users, role groups and API token settings."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/organisation/", views.organization_settings, name="organization"),
    path("settings/users/", views.user_list, name="users"),
    path("settings/users/new/", views.user_create, name="user_create"),
    path("settings/users/<int:pk>/", views.user_edit, name="user_edit"),
    path("settings/users/<int:pk>/password/", views.user_password, name="user_password"),
    path("settings/users/<int:pk>/delete/", views.user_delete, name="user_delete"),
    path("settings/role-groups/", views.role_group_list, name="role_groups"),
    path("settings/role-groups/new/", views.role_group_create, name="role_group_create"),
    path("settings/role-groups/<int:pk>/", views.role_group_edit, name="role_group_edit"),
    path(
        "settings/role-groups/<int:pk>/delete/", views.role_group_delete, name="role_group_delete"
    ),
    path("settings/security/api-tokens/", views.api_token_list, name="api_tokens"),
    path(
        "settings/security/api-tokens/<int:pk>/revoke/",
        views.api_token_revoke,
        name="api_token_revoke",
    ),
]
