"""Local HTTP peers standing in for SaaS APIs, driven by their official SDKs in tests."""
