"""Reads of settings that more than one caller needs (business rules run by conversations)."""

from django.db.models import QuerySet

from settings_app.models import BusinessRule, SavedSearch, Shortcut, SupportAccess


def business_rules_enabled() -> QuerySet[BusinessRule]:
    """The current organisation's enabled rules, in the order they run."""
    return BusinessRule.objects.filter(enabled=True).order_by("position", "id")


def business_rules() -> QuerySet[BusinessRule]:
    return BusinessRule.objects.order_by("position", "id")


def saved_searches() -> QuerySet[SavedSearch]:
    return SavedSearch.objects.order_by("name", "id")


def shortcuts() -> QuerySet[Shortcut]:
    return Shortcut.objects.order_by("category", "name", "id")


def support_access_grants() -> QuerySet[SupportAccess]:
    return SupportAccess.objects.order_by("-created_at", "-id")
