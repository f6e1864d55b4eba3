"""Bucket event notifications: targets, the outbox and its deliverers (issue 25)."""
