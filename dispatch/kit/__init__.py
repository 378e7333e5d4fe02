"""Shared pieces for list endpoints and geometry at the edges: pagination (Page, PageParams) and GeoJSON."""
