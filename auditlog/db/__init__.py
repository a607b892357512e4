"""PostgreSQL backend that writes buffered audit rows inside the committing transaction."""
