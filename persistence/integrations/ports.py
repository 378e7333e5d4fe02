"""The integration ports, built once per process from settings and handed to whoever needs them.

The gateway builds them in its lifespan (`app.state.ports`, injected through `gateway/deps.py`);
the outbox worker and the scheduler build their own at start. Services receive the port they
need as an argument and never build one.
"""

from __future__ import annotations

from dataclasses import dataclass

from persistence.config import Settings
from persistence.integrations.email import EmailPort, email_port
from persistence.integrations.payments import PaymentsPort, payments_port
from persistence.integrations.sms import SmsPort, sms_port
from persistence.storage import StoragePort, storage_port


@dataclass(frozen=True, slots=True)
class Ports:
    """Every outside service MoveHub talks to, each behind its small port."""

    payments: PaymentsPort
    storage: StoragePort
    email: EmailPort
    sms: SmsPort


def build_ports(settings: Settings) -> Ports:
    """The real adapter where settings configure one, the local default otherwise."""
    return Ports(
        payments=payments_port(settings),
        storage=storage_port(settings),
        email=email_port(settings),
        sms=sms_port(settings),
    )
