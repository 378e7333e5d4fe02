"""Notifications: templates per event, channel preferences, and delivery through the ports."""
