"""The Audit Log page and the audit REST API (events, exports, integrity)."""
