"""Tests of work sessions, agent status, capacity, heartbeats and the queue router."""
