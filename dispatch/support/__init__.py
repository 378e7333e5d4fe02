"""Support tickets: priority and SLA rules, comments, escalation, resolution, statistics."""
