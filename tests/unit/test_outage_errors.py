"""Which errors count as an outage (503 / close 1013) and which stay a bug (500 / 1011):
gateway.errors.unavailable over the exception types the driver, the pool and redis raise."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.errors import unavailable


def wrapped(orig: Exception, invalidated: bool = False) -> DBAPIError:
    """The error as SQLAlchemy raises it around the driver's."""
    error = DBAPIError.instance("SELECT 1", {}, orig, Exception, connection_invalidated=invalidated)
    assert isinstance(error, DBAPIError)
    return error


def caused(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),  # asyncpg's connect timeout
        OSError(113, "No route to host"),
        PoolTimeout("QueuePool limit reached"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed mid-operation"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        wrapped(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
        wrapped(Exception("server closed the connection"), invalidated=True),
        caused(RuntimeError("while loading"), ConnectionResetError(104, "reset")),
        redis.exceptions.ConnectionError("Error 111 connecting"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unreachable_service_is_an_outage(error: Exception) -> None:
    assert unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        FileNotFoundError(2, "No such file"),
        PermissionError(13, "Permission denied"),
        wrapped(asyncpg.exceptions.DataError("value out of range")),
        wrapped(asyncpg.exceptions.SerializationError("could not serialize access")),
        asyncpg.exceptions.InterfaceError("another operation is in progress"),
        redis.exceptions.ResponseError("WRONGTYPE"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bug_or_a_bad_request_is_not(error: Exception) -> None:
    assert not unavailable(error)
