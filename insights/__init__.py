"""Built on the audit record: object History ("as of", restore), agent timelines, Team Pulse and
the connectivity report."""
