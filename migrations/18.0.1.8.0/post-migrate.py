# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.8: a dispute's updates and funds events stored before (as ignored) get their charge
as provider object, as 1.7 gave the other events of a charge: reprocessed by hand, they
find the subscription an earlier event of the same charge was applied to."""

from odoo.addons.customer_success.services.upgrade import fill_charge_refs

NEW_TYPES = (
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


def migrate(cr, version):
    if not version:
        return
    fill_charge_refs(cr, NEW_TYPES)
