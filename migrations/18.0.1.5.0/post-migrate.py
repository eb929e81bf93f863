# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.5: the module's translations are loaded over those already in the database.

When a module is upgraded, Odoo adds the translations of new terms but keeps the
ones a database already has, so a label whose English changed keeps its old
translation: a Russian user saw "Клиент" for the events' *Billing Account* (it was
"Account"). Several labels changed in 1.4 and 1.5; reloading this module's
catalogues with overwrite puts every one of them in step. Only this module's terms
are touched.
"""

from odoo import SUPERUSER_ID
from odoo import api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    module = env["ir.module.module"].search([("name", "=", "customer_success")])
    module._update_translations(overwrite=True)
