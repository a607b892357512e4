"""The audit log's read side: filters, keyset paging, the rows as people read them, the
volume strip and exports; one `selectors.audit_events_page()` for the page and the API."""
