"""Routes: organizations (being built)."""

from fastapi import APIRouter

router = APIRouter()
