"""Tests of customers, conversations, business rules and the close workflow."""
