"""The organisation's plan and seats."""
