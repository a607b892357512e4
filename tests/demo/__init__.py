"""Tests of the demo data commands."""
