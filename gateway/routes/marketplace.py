"""Routes: marketplace (being built)."""

from fastapi import APIRouter

router = APIRouter()
