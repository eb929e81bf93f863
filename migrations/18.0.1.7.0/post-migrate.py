# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.7: Stripe events about a charge (a refund, a dispute) remember the charge as their
provider object, so that a later event naming only the charge (a failed refund, a
dispute's closing) finds the subscription an earlier one was applied to; subscription
events keep their subscription's status in a column of its own, which the inbox compares
instead of casting each payload to JSON in SQL (which PostgreSQL refuses for some
escapes). Events stored before 1.7 get both from their payload: the charges' events (a
few), and the subscription events still waiting in the inbox (the only ones compared).
"""

import json

TYPES = ("charge.refunded", "charge.dispute.created", "charge.dispute.closed")


def _charge_ref(event_type, payload):
    try:
        obj = ((json.loads(payload or "") or {}).get("data") or {}).get("object") or {}
    except (ValueError, AttributeError):
        return None
    ref = obj.get("id") if event_type == "charge.refunded" else obj.get("charge")
    if isinstance(ref, dict):
        ref = ref.get("id")
    return ref if isinstance(ref, str) and ref else None


def _status(payload):
    try:
        obj = ((json.loads(payload or "") or {}).get("data") or {}).get("object") or {}
    except (ValueError, AttributeError):
        return None
    status = obj.get("status")
    return status if isinstance(status, str) and 0 < len(status) <= 32 else None


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        SELECT id, event_type, payload FROM cs_billing_event
         WHERE provider = 'stripe' AND object_ref IS NULL AND event_type IN %s
        """,
        [TYPES],
    )
    for event_id, kind, payload in cr.fetchall():
        ref = _charge_ref(kind, payload)
        if ref:
            cr.execute("UPDATE cs_billing_event SET object_ref = %s WHERE id = %s", [ref, event_id])
    cr.execute(
        """
        SELECT id, payload FROM cs_billing_event
         WHERE provider = 'stripe' AND state = 'received' AND object_status IS NULL
           AND event_type LIKE %s
        """,
        ["customer.subscription.%"],
    )
    for event_id, payload in cr.fetchall():
        status = _status(payload)
        if status:
            cr.execute(
                "UPDATE cs_billing_event SET object_status = %s WHERE id = %s", [status, event_id]
            )
