"""Routes: auth — one-time codes by SMS or email, token refresh, sign-out, who am I.

Apps use the JSON body (Bearer access token, refresh token in the body); browsers get the
same tokens as HttpOnly cookies plus a readable CSRF cookie for double-submit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from dispatch.auth import service
from dispatch.auth.credentials import new_csrf_secret
from dispatch.auth.schemas import (
    OtpRequest,
    OtpRequested,
    OtpVerify,
    RefreshRequest,
    TokenPair,
    UserOut,
)
from dispatch.errors import Unauthorized
from gateway.deps import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    CurrentCaller,
    SessionDep,
    SettingsDep,
    SystemSessionDep,
    check_csrf,
    client_ip,
)
from gateway.ratelimit import AppRateLimiter
from persistence.config import Settings

router = APIRouter(prefix="/auth", tags=["auth"])
REFRESH_COOKIE_PATH = "/api/v1/auth"
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "refused (problem+json)"},
    429: {"description": "rate limited (problem+json, Retry-After header)"},
}


def _set_session_cookies(response: Response, tokens: TokenPair, settings: Settings) -> None:
    secure = settings.cookie_secure
    response.set_cookie(
        ACCESS_COOKIE,
        tokens.access_token,
        max_age=tokens.expires_in,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=settings.refresh_token_ttl_s,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        new_csrf_secret(),
        max_age=settings.refresh_token_ttl_s,
        path="/",
        httponly=False,
        secure=secure,
        samesite="lax",
    )


def _clear_session_cookies(response: Response, settings: Settings) -> None:
    secure = settings.cookie_secure
    response.delete_cookie(ACCESS_COOKIE, path="/", httponly=True, secure=secure, samesite="lax")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, secure=secure, samesite="lax"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")


def _refresh_secret(request: Request, body: RefreshRequest | None) -> str | None:
    """From the body (apps), else from the cookie (browsers, which must pass the CSRF check)."""
    if body is not None and body.refresh_token:
        return body.refresh_token
    cookie = request.cookies.get(REFRESH_COOKIE)
    if cookie:
        check_csrf(request)
    return cookie


@router.post(
    "/otp/request",
    response_model=OtpRequested,
    status_code=status.HTTP_202_ACCEPTED,
    responses={429: REFUSALS[429]},
)
async def request_code(
    request: Request,
    session: SystemSessionDep,
    limiter: AppRateLimiter,
    settings: SettingsDep,
    payload: OtpRequest,
) -> OtpRequested:
    """Send a 6-digit sign-in code; the same answer whether or not the account exists."""
    return await service.request_code(session, limiter, payload, client_ip(request), settings)


@router.post("/otp/verify", response_model=TokenPair, responses=REFUSALS)
async def verify_code(
    response: Response,
    session: SystemSessionDep,
    limiter: AppRateLimiter,
    settings: SettingsDep,
    payload: OtpVerify,
) -> TokenPair:
    """Sign in with the code: tokens in the body and as cookies; new contacts become customers."""
    tokens = await service.sign_in(session, limiter, payload, settings)
    _set_session_cookies(response, tokens, settings)
    return tokens


@router.post("/refresh", response_model=TokenPair, responses={401: REFUSALS[401]})
async def refresh(
    request: Request,
    response: Response,
    session: SystemSessionDep,
    settings: SettingsDep,
    payload: RefreshRequest | None = None,
) -> TokenPair:
    """Rotate the refresh token; replaying an old one revokes the whole sign-in."""
    secret = _refresh_secret(request, payload)
    if not secret:
        raise Unauthorized("refresh token required (body or movehub_refresh cookie)")
    tokens = await service.refresh_tokens(session, secret, settings)
    _set_session_cookies(response, tokens, settings)
    return tokens


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, session: SystemSessionDep, settings: SettingsDep, payload: RefreshRequest | None = None
) -> Response:
    """Revoke this sign-in's refresh tokens and clear the cookies."""
    await service.sign_out(session, _refresh_secret(request, payload), settings)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_session_cookies(response, settings)
    return response


@router.get("/me", response_model=UserOut, responses={401: REFUSALS[401]})
async def me(caller: CurrentCaller, session: SessionDep) -> UserOut:
    """The signed-in user."""
    return await service.me(session, caller)
