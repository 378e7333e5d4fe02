"""Verification of organizations and drivers: required documents, review, expiry."""
