"""Deciding, drafting, approving and sending replies to brand mentions."""
