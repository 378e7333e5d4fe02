"""Routes: board (being built)."""

from fastapi import APIRouter

router = APIRouter()
