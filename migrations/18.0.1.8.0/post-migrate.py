# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.8: a dispute's updates and funds events stored before (as ignored) get their charge
as provider object, as 1.7 gave the other events of a charge: reprocessed by hand, they
find the subscription an earlier event of the same charge was applied to."""

from odoo.addons.customer_success.services.providers import stripe_adapter

NEW_TYPES = (
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        SELECT id, payload FROM cs_billing_event
         WHERE provider = 'stripe' AND object_ref IS NULL AND event_type IN %s
        """,
        [NEW_TYPES],
    )
    for event_id, payload in cr.fetchall():
        ref = stripe_adapter.charge_ref(stripe_adapter.stored_object(payload))
        if ref:
            cr.execute("UPDATE cs_billing_event SET object_ref = %s WHERE id = %s", [ref, event_id])
