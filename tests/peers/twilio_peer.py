"""A local stand-in for Twilio's Messages API (2010-04-01), for the official twilio SDK."""

from __future__ import annotations

import base64
import uuid
from urllib.parse import parse_qs

from tests.peers.http_peer import HttpPeer, Recorded, Reply


class TwilioPeer(HttpPeer):
    def __init__(
        self, account_sid: str = "ACtest0000000000000000000000000000", auth_token: str = "twilio-test-token"
    ) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, str]] = []

    def _authorized(self, request: Recorded) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    def failure(self, status: int) -> Reply:
        return Reply(
            status,
            {
                "code": 20000 + status,
                "message": f"injected failure {status}",
                "more_info": "https://www.twilio.com/docs/errors",
                "status": status,
            },
        )

    def answer(self, request: Recorded) -> Reply:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != path:
            return self.failure(404)
        if not self._authorized(request):
            return self.failure(401)
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        sid = "SM" + uuid.uuid4().hex
        self.messages.append({**form, "sid": sid})
        return Reply(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": "Tue, 24 Nov 2026 21:00:00 +0000",
                "price": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )
