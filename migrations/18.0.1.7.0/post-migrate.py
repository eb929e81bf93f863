# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.7: Stripe events about a charge (a refund, a dispute) remember the charge as their
provider object, so that a later event naming only the charge (a failed refund, a
dispute's closing) finds the subscription an earlier one was applied to. Events stored
before 1.7 get it from their payload; their count is small (charges' events only).
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
