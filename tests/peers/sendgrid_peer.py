"""A local stand-in for SendGrid's v3 mail/send endpoint, for the official sendgrid SDK."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.peers.http_peer import HttpPeer, Recorded, Reply


class SendGridPeer(HttpPeer):
    def __init__(self, api_key: str = "SG.test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.mails: list[dict[str, Any]] = []

    def failure(self, status: int) -> Reply:
        return Reply(status, {"errors": [{"message": f"injected failure {status}"}]})

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v3/mail/send":
            return self.failure(404)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.failure(401)
        self.mails.append(json.loads(request.body))
        return Reply(202, None, {"X-Message-Id": uuid.uuid4().hex})
