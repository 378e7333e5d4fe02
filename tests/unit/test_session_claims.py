"""Session claims in access tokens and the pure liveness rule (no database, no Redis)."""

from __future__ import annotations

import uuid

import jwt
import pytest

from dispatch.auth.revocation import (
    LIVE,
    OFF,
    REVOKED,
    is_live,
    keys_of,
    session_key,
    user_key,
    user_state,
)
from dispatch.auth.tokens import AccessClaims, issue_access_token, verify_access_claims
from dispatch.errors import Unauthorized
from persistence.config import get_settings
from persistence.session import Caller

USER, FAMILY = uuid.uuid4(), uuid.uuid4()
CALLER = Caller(role="dispatcher", user_id=USER, org_id=uuid.uuid4())


def test_version_and_sign_in_round_trip() -> None:
    settings = get_settings()
    claims = verify_access_claims(
        issue_access_token(CALLER, settings, version=3, session_id=FAMILY), settings
    )
    assert claims == AccessClaims(CALLER, 3, FAMILY)
    assert keys_of(claims) == [user_key(USER), session_key(FAMILY)]
    bare = verify_access_claims(issue_access_token(CALLER, settings), settings)
    assert (bare.version, bare.session_id, keys_of(bare)) == (0, None, [user_key(USER)])


@pytest.mark.parametrize("version", [-1, "1", True, 1.5])
def test_a_malformed_version_is_refused(version: object) -> None:
    settings = get_settings()
    token = issue_access_token(CALLER, settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "ver": version}, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    with pytest.raises(Unauthorized):
        verify_access_claims(forged, settings)


@pytest.mark.parametrize(
    "user, sign_in, live",
    [
        (user_state(2, True), LIVE, True),
        (user_state(1, True), LIVE, True),  # a version older than the token's: never refuses
        (user_state(3, True), LIVE, False),  # bumped since the token was issued
        (user_state(2, False), LIVE, False),  # deactivated
        (OFF, LIVE, False),
        (user_state(2, True), REVOKED, False),
        (user_state(2, True), None, False),  # a sign-in nobody knows of
        (None, LIVE, False),  # a user nobody knows of
    ],
)
def test_liveness(user: bytes | None, sign_in: bytes | None, live: bool) -> None:
    claims = AccessClaims(CALLER, 2, FAMILY)
    states = {k: v for k, v in ((user_key(USER), user), (session_key(FAMILY), sign_in)) if v}
    assert is_live(claims, states) is live


def test_a_token_without_a_sign_in_depends_on_the_user_only() -> None:
    claims = AccessClaims(CALLER, 0, None)
    assert is_live(claims, {user_key(USER): user_state(0, True)})
    assert not is_live(claims, {user_key(USER): user_state(1, True)})
