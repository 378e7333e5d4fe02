"""Routes: payments (being built)."""

from fastapi import APIRouter

router = APIRouter()
