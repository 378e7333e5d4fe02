"""Routes: invoices (being built)."""

from fastapi import APIRouter

router = APIRouter()
