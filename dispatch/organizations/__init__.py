"""Mover organizations: onboarding, profile and pricing, service area, staff."""
