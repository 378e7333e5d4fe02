"""Routes: ratings (being built)."""

from fastapi import APIRouter

router = APIRouter()
