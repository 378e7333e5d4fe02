"""Routes: documents (being built)."""

from fastapi import APIRouter

router = APIRouter()
