"""A local Stripe for the official SDK: payment intents and refunds with idempotency keys,
plus injectable faults (status codes, a hang past the client timeout, a dropped connection)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.peers.http_peer import HttpPeer, Recorded, Reply

HANG = -1  # fail_next value: sleep past the client's timeout
DROP = -2  # fail_next value: close the connection without an answer


class StripePeer(HttpPeer):
    def __init__(self, hang_s: float = 1.5) -> None:
        super().__init__()
        self.hang_s = hang_s
        self.by_key: dict[str, Reply] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self._keys_lock = threading.Lock()  # one answer per key, even for concurrent requests

    def failure(self, status: int) -> Reply:
        if status == HANG:
            time.sleep(self.hang_s)
            return Reply(500, {"error": {"message": "too late"}})
        if status == DROP:
            raise ConnectionResetError("injected: connection dropped")
        return Reply(status, {"error": {"type": "api_error", "message": f"injected {status}"}})

    def answer(self, request: Recorded) -> Reply:
        with self._keys_lock:
            return self._answer(request)

    def _answer(self, request: Recorded) -> Reply:
        key = request.headers.get("Idempotency-Key") or request.headers.get("idempotency-key")
        if key and key in self.by_key:
            return self.by_key[key]  # Stripe replays the first result for a key
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.path.startswith("/v1/payment_intents"):
            reply = self._intent(form)
        elif request.path.startswith("/v1/refunds"):
            reply = self._refund(form)
        else:
            reply = Reply(404, {"error": {"message": f"no route {request.path}"}})
        if key:
            self.by_key[key] = reply
        return reply

    def _intent(self, form: dict[str, str]) -> Reply:
        intent_id = f"pi_peer_{uuid.uuid4().hex[:16]}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_x",
        }
        self.intents[intent["id"]] = intent
        return Reply(200, intent)

    def _refund(self, form: dict[str, str]) -> Reply:
        refund = {
            "id": f"re_peer_{uuid.uuid4().hex[:16]}",
            "object": "refund",
            "amount": int(form["amount"]),
            "payment_intent": form["payment_intent"],
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return Reply(200, refund)


def signed_event(secret: str, event: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, as Stripe signs them."""
    body = json.dumps(event).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={ts},v1={digest}"
