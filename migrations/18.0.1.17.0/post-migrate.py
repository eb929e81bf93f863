# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.17: YooKassa payments still waiting are asked of YooKassa's API when their
notification does not come.

Payments made before the upgrade that still wait have no time to be asked at: they are
asked at the job's next run, so one whose notification never came is found at once.
"""


def migrate(cr, version):
    cr.execute(
        """
        UPDATE cs_billing_payment_request r
           SET next_poll_at = now() AT TIME ZONE 'UTC'
          FROM cs_billing_account a
         WHERE a.id = r.account_id AND a.provider = 'yookassa'
           AND r.state = 'waiting' AND r.external_id IS NOT NULL AND r.next_poll_at IS NULL
        """
    )
