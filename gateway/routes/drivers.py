"""Routes: drivers (being built)."""

from fastapi import APIRouter

router = APIRouter()
