"""Routes: assignment (being built)."""

from fastapi import APIRouter

router = APIRouter()
