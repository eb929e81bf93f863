# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.8: the Stripe events of a charge include a dispute's updates and the funds Stripe
holds back or returns. The partial index of those events names their types, so it is
dropped here and the model builds it again with the new ones."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("DROP INDEX IF EXISTS cs_billing_event_charge_index")
