"""Ratings and reviews: one per completed booking, aggregated per organization and driver."""
