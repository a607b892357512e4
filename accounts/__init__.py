"""Organisations, users, role groups, sign-in and API tokens."""
