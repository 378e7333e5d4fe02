"""Routes: booking_status (being built)."""

from fastapi import APIRouter

router = APIRouter()
