"""SMS through Twilio's official SDK (Messages API, async), optionally against another API host.

Twilio's documented extension point for changing how requests go out is a custom HTTP
client passed to `Client(http_client=...)`; ours rewrites the scheme and host of every URL
the SDK builds to MOVEHUB_TWILIO_API_BASE (a local peer in tests, a proxy in odd networks).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from persistence.config import Settings
from persistence.integrations.email.port import DeliveryFailed
from persistence.integrations.email.port import retryable_status as _retryable
from persistence.integrations.sms.port import SmsMessage


class RebasedAsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's async HTTP client with every request sent to `base_url` instead of twilio.com."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self._base = urlsplit(base_url)

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self._base.netloc:
            parts = urlsplit(url)
            base_path = self._base.path.rstrip("/")
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, base_path + parts.path, parts.query, parts.fragment)
            )
        return await super().request(method, url, *args, **kwargs)


class TwilioSms:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _client(self) -> Client:
        # One client per send: aiohttp sessions belong to the running event loop.
        settings = self._settings
        http_client = RebasedAsyncHttpClient(settings.twilio_api_base, settings.notification_timeout_s)
        return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)

    async def send(self, message: SmsMessage) -> str:
        try:
            sent = await self._client().messages.create_async(
                to=message.to, from_=self._settings.twilio_from_number, body=message.body
            )
        except TwilioRestException as exc:
            raise DeliveryFailed(f"Twilio {exc.status}: {exc.msg}", retryable=_retryable(exc.status)) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"Twilio unreachable: {exc}", retryable=True) from exc
        return str(sent.sid)
