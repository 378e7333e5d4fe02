"""The booking state machine as plain data: which status may follow which, and who may move it."""

from __future__ import annotations

from typing import Final, Literal

Status = Literal[
    "pending", "confirmed", "assigned", "en_route", "arrived", "loading", "in_transit",
    "unloading", "completed", "cancelled", "no_show", "disputed",
]
Actor = Literal["customer", "driver", "mover_staff", "platform_admin", "system"]

STATUSES: Final[tuple[Status, ...]] = (
    "pending", "confirmed", "assigned", "en_route", "arrived", "loading", "in_transit",
    "unloading", "completed", "cancelled", "no_show", "disputed",
)
TERMINAL: Final[frozenset[Status]] = frozenset({"cancelled"})
DRIVER_JOB_STATUSES: Final[tuple[Status, ...]] = (
    "en_route", "arrived", "loading", "in_transit", "unloading", "completed",
)
ACTIVE_JOB_STATUSES: Final[frozenset[Status]] = frozenset(
    {"assigned", "en_route", "arrived", "loading", "in_transit", "unloading"}
)

_STAFF: Final[frozenset[Actor]] = frozenset({"mover_staff", "system"})
_CREW: Final[frozenset[Actor]] = frozenset({"driver", "mover_staff", "system"})

# (from, to) -> the actors allowed to make that move. Platform admins may make any listed move.
TRANSITIONS: Final[dict[tuple[Status, Status], frozenset[Actor]]] = {
    ("pending", "confirmed"): _STAFF,
    ("pending", "cancelled"): frozenset({"customer", "mover_staff", "system"}),
    ("confirmed", "assigned"): _STAFF,
    ("confirmed", "cancelled"): frozenset({"customer", "mover_staff", "system"}),
    ("assigned", "confirmed"): _STAFF,  # unassigned
    ("assigned", "en_route"): _CREW,
    ("assigned", "cancelled"): frozenset({"customer", "mover_staff", "system"}),
    ("en_route", "arrived"): _CREW,
    ("en_route", "cancelled"): frozenset({"mover_staff", "system"}),
    ("arrived", "loading"): _CREW,
    ("arrived", "no_show"): _CREW,
    ("loading", "in_transit"): _CREW,
    ("in_transit", "unloading"): _CREW,
    ("unloading", "completed"): _CREW,
    ("completed", "disputed"): frozenset({"customer", "mover_staff"}),
    ("no_show", "disputed"): frozenset({"customer", "mover_staff"}),
    ("disputed", "completed"): frozenset({"system"}),
    ("disputed", "cancelled"): frozenset({"system"}),
}


def actor_for_role(role: str) -> Actor:
    """Map an authenticated role onto the state machine's actors."""
    if role in ("mover_admin", "dispatcher"):
        return "mover_staff"
    if role in ("customer", "driver", "platform_admin", "system"):
        return role  # type: ignore[return-value]
    raise ValueError(f"unknown role {role!r}")


def allowed_next(current: Status, actor: Actor) -> list[Status]:
    """The statuses `actor` may move a booking in `current` to, in lifecycle order."""
    return [
        to for to in STATUSES
        if (current, to) in TRANSITIONS
        and (actor == "platform_admin" or actor in TRANSITIONS[(current, to)])
    ]


def can_transition(current: Status, target: Status, actor: Actor) -> bool:
    return target in allowed_next(current, actor)
