# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.2: the billing inbox keeps three partial indexes instead of seven full ones.

Odoo does not drop an index when a field loses ``index=True``; on the inbox each
one made every webhook insert and every state change of the cron dearer. The
partial indexes replacing them are created by ``cs.billing.event.init()``.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        DROP INDEX IF EXISTS cs_billing_event__account_id_index,
                             cs_billing_event__company_id_index,
                             cs_billing_event__event_type_index,
                             cs_billing_event__object_ref_index,
                             cs_billing_event__state_index,
                             cs_billing_event__next_attempt_at_index,
                             cs_billing_event__to_reconcile_index
        """
    )
