"""Migration 0013: refunds still to send get their `refund.send` outbox row (the retry job that
found them by next_attempt_at is gone), a claimed-but-unanswered one is pending again, and the
settled ones get none; down again, the column is back."""

from __future__ import annotations

import uuid

from persistence.bootstrap import downgrade, migrate

# Foreign keys are triggers: replica mode lets refunds stand without their booking and payment.
REFUND = (
    "INSERT INTO refunds (id, org_id, booking_id, payment_id, customer_id, amount_cents, "
    "currency, reason_code, status, provider_refund_id, key_generation) "
    "VALUES (%s, %s, %s, %s, %s, 1000, 'EUR', 'other', %s, %s, %s)"
)


def test_refunds_to_send_get_their_outbox_rows(scratch_database) -> None:  # type: ignore[no-untyped-def]
    database = scratch_database("refmig")
    owner_url = database.owner_url
    refunds = {
        name: uuid.uuid4() for name in ("pending", "failed", "claimed", "accepted", "succeeded", "dead")
    }
    rows = [
        (refunds["pending"], "pending", None, 0),
        (refunds["failed"], "failed", None, 2),
        (refunds["claimed"], "sending", None, 0),
        (refunds["accepted"], "sending", "re_1", 0),
        (refunds["succeeded"], "succeeded", "re_2", 0),
        (refunds["dead"], "dead", None, 0),
    ]
    migrate("0012", owner_url=owner_url)
    with database.admin() as conn:
        conn.execute("SET session_replication_role = replica")
        for refund_id, status, provider_id, generation in rows:
            conn.execute(
                REFUND,
                (
                    refund_id,
                    uuid.uuid4(),
                    uuid.uuid4(),
                    uuid.uuid4(),
                    uuid.uuid4(),
                    status,
                    provider_id,
                    generation,
                ),
            )
    migrate("head", owner_url=owner_url)
    with database.admin() as conn:
        sends = dict(
            conn.execute(
                "SELECT payload->>'refund_id', idempotency_key FROM outbox "
                "WHERE topic = 'refund.send' AND status = 'pending'"
            ).fetchall()
        )
        claimed = conn.execute("SELECT status FROM refunds WHERE id = %s", (refunds["claimed"],)).fetchone()
    assert sends == {
        str(refunds["pending"]): f"refund.send:{refunds['pending']}:0",
        str(refunds["failed"]): f"refund.send:{refunds['failed']}:2",
        str(refunds["claimed"]): f"refund.send:{refunds['claimed']}:0",
    }
    assert claimed == ("pending",)
    downgrade("0012", owner_url=owner_url)
    with database.admin() as conn:
        due = conn.execute("SELECT count(*) FROM refunds WHERE next_attempt_at <= now()").fetchone()
    assert due == (len(rows),)
