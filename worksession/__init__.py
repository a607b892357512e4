"""Agent status, capacity, heartbeats and the queue router."""
