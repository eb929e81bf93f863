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

from odoo.addons.customer_success.services.providers import stripe_adapter
from odoo.addons.customer_success.services.upgrade import fill_charge_refs


def migrate(cr, version):
    if not version:
        return
    fill_charge_refs(cr, stripe_adapter.CHARGE_EVENT_TYPES)
    cr.execute(
        """
        SELECT id, payload FROM cs_billing_event
         WHERE provider = 'stripe' AND state = 'received' AND object_status IS NULL
           AND event_type LIKE %s
        """,
        ["customer.subscription.%"],
    )
    for event_id, payload in cr.fetchall():
        status = stripe_adapter.status_of(stripe_adapter.stored_object(payload))
        if status:
            cr.execute(
                "UPDATE cs_billing_event SET object_status = %s WHERE id = %s", [status, event_id]
            )
