"""Bookings: quotes, booking a move, the customer's and the org's lists, edits, availability."""
