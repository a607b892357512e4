"""Customers and conversations: the objects agents work on."""
