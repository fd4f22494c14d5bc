"""Test doubles that stand in for the outside world (platform APIs)."""
