"""Routes: support (being built)."""

from fastapi import APIRouter

router = APIRouter()
