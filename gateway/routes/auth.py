"""Routes: auth (being built)."""

from fastapi import APIRouter

router = APIRouter()
