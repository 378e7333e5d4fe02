"""Render an event's email (subject, text, HTML) and SMS from the Jinja2 templates beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dispatch.notifications.catalog import EVENTS

TEMPLATE_DIR = Path(__file__).parent / "templates"


class MissingContext(ValueError):
    """The producer left out context the event's templates need: a bug to fix, not retry."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def money(cents: int, currency: str = "") -> str:
    """Integer cents as a display amount: 12345, "EUR" -> "EUR 123.45"."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{currency} {sign}{whole:,}.{rest:02d}".strip()


def when(value: datetime | str) -> str:
    """A timestamp as people read it in a message: "Mon 07 Dec 2026, 09:00 UTC"."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%a %d %b %Y, %H:%M %Z").strip()


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["when"] = when
    return env


_ENV = _environment()


def _checked(event: str, context: dict[str, Any]) -> None:
    if event not in EVENTS:
        raise MissingContext(f"unknown notification event {event!r}")
    missing = [key for key in EVENTS[event].required if key not in context]
    if missing:
        raise MissingContext(f"{event} needs context keys: {', '.join(missing)}")


def render_email(event: str, context: dict[str, Any]) -> RenderedEmail:
    _checked(event, context)
    subject = _ENV.from_string(EVENTS[event].subject).render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=_ENV.get_template(f"{event}.txt").render(context).strip() + "\n",
        html=_ENV.get_template(f"{event}.html").render(context),
    )


def render_sms(event: str, context: dict[str, Any]) -> str:
    _checked(event, context)
    return " ".join(_ENV.get_template(f"{event}.sms.txt").render(context).split())
