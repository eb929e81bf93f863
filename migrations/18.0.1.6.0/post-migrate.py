# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.6: the failed-payment email promises a retry only when the provider has one
scheduled (and names its date); otherwise it tells the client a payment link follows.

The template is ``noupdate``: an upgrade keeps the body a database has. A body still
as 1.5 shipped it is replaced by this version's, with its translations from the
catalogues; a body someone edited is left as it is.
"""

from odoo import SUPERUSER_ID
from odoo import api
from odoo.addons.customer_success.services.upgrade import replace_unedited

XMLID = "mail_template_payment_failed"
# The English body 1.5 installed, compared without its whitespace.
SHIPPED_1_5 = (
    "<div><p>Hello <t t-out=\"object.partner_id.name or ''\"/>,</p>"
    '<p>The payment of <strong t-out="format_amount(object.amount_due, object.currency_id) '
    "or ''\"/> for your subscription <strong t-out=\"object.name or ''\"/> did not go "
    "through.</p><p>Please check your card or payment method; we will try again shortly. "
    "Reply to this email if you need help.</p><p>Thank you,<br/><t "
    "t-out=\"object.company_id.name or ''\"/></p></div>"
)


def migrate(cr, version):
    if not version:
        return
    replace_unedited(api.Environment(cr, SUPERUSER_ID, {}), XMLID, SHIPPED_1_5)
