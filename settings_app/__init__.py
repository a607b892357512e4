"""Searches, shortcuts, business rules and support access."""
