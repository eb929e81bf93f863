# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.12: *Unpaid Since* on subscriptions, read by the health score's payment measure.

Subscriptions that owe when the addon is upgraded get it from what is known: billed in
Odoo, the due date of the oldest unpaid invoice (their next payment date says it);
billed by a provider, the day of the newest payment event applied (the failure, or
a later retry), else the day of their last change: the debt is at least that old.
"""


def migrate(cr, version):
    cr.execute(
        """
        UPDATE sale_subscription
           SET cs_unpaid_since = CASE
                   WHEN billing_account_id IS NULL
                       THEN COALESCE(next_payment_date, write_date::date)
                   ELSE COALESCE(cs_payment_synced_at, write_date)::date
               END
         WHERE payment_status IN ('failed', 'overdue') AND cs_unpaid_since IS NULL
        """
    )
