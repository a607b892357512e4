"""Platform operators' view of tenants and users (Django admin, superusers only)."""

from django.contrib import admin

from accounts.models import ApiToken, Organization, RoleGroup, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone", "created_at")
    search_fields = ("name", "slug")
    # A copy of the audited retention policy: changed by retention_set (Settings > Organisation)
    # only, which records the event the purge acts on.
    readonly_fields = ("audit_retention_days",)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "org", "role_group", "is_active")
    list_filter = ("org", "is_active")
    search_fields = ("email", "name")
    exclude = ("password",)


@admin.register(RoleGroup)
class RoleGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "org")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "org", "prefix", "created_at", "last_used_at")
    exclude = ("secret_hash",)
