# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.4: billing accounts have a Responsible, who gets a to-do when events fail for good.

Odoo fills the new column of existing accounts with the default of the user who
upgrades (often OdooBot, who reads nothing); the person who created the account
is the better guess, when they are still an active internal user.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE cs_billing_account a
           SET user_id = (SELECT u.id FROM res_users u
                           WHERE u.id = a.create_uid AND u.active AND NOT u.share)
        """
    )
