"""Tests of the project's structure: which package may import which."""
