"""What settings_app records: searches, shortcuts, business rules and support access (catalog sections)."""

from auditlog.recorder import track
from settings_app.models import BusinessRule, SavedSearch, Shortcut, SupportAccess

# Criteria, columns and actions are recorded whole (JSON), so the viewer can show the full
# structure before and after and mark what changed.
track(
    SavedSearch,
    section="Search",
    fields=("name", "criteria", "columns"),
    subject_name=lambda search: search.name,
)
track(
    Shortcut,
    section="Shortcut",
    fields=("name", "text", "category"),
    subject_name=lambda shortcut: shortcut.name,
)
track(
    BusinessRule,
    section="Business Rule",
    fields=("name", "enabled", "criteria", "actions", "position"),
    subject_name=lambda rule: rule.name,
)
track(
    SupportAccess,
    section="Support Access",
    fields=("enabled", "access_level", "expires_at"),
    subject_name=str,
)
