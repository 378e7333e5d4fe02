"""The customer's view of a move in progress: ETA to the next stop, tracking links, alerts."""
