# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.1: zone, churn risk and the falling flag are no longer indexed.

Odoo does not drop an index when a field loses ``index=True``; these three
two- or three-value indexes only turned each nightly update into a non-HOT one.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        DROP INDEX IF EXISTS res_partner__health_zone_index,
                             res_partner__churn_risk_index,
                             res_partner__cs_health_falling_index
        """
    )
