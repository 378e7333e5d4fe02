"""Routes: user accounts — deactivate (their sessions end within seconds) and reactivate.

Mover admins manage their own organization's staff and drivers; platform admins anyone.
Anyone else's account answers 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from dispatch.auth.schemas import UserOut
from dispatch.users import service
from gateway.deps import MoverAdmin, SessionDep

router = APIRouter(prefix="/users", tags=["users"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such user, or not one the caller manages (problem+json)"}
}


@router.post(
    "/{user_id}/deactivate",
    response_model=UserOut,
    responses={**ANSWERS, 409: {"description": "one's own account (problem+json)"}},
)
async def deactivate(caller: MoverAdmin, session: SessionDep, user_id: uuid.UUID) -> UserOut:
    """Deactivate the account: its access tokens are refused and its sockets close
    (code 4410) within seconds; refresh and sign-in are refused until reactivation."""
    return await service.deactivate(session, caller, user_id)


@router.post("/{user_id}/reactivate", response_model=UserOut, responses=ANSWERS)
async def reactivate(caller: MoverAdmin, session: SessionDep, user_id: uuid.UUID) -> UserOut:
    """Let the user sign in again; tokens issued before the deactivation stay refused."""
    return await service.reactivate(session, caller, user_id)
