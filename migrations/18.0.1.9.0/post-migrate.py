# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.9: the payment-link email gives the time until which a Kaspi link works in the
customer's time zone, else the company's, else Kazakhstan's (Kaspi's): 1.8's fell back
to the sender's, or UTC.

The template is ``noupdate``: a body still as 1.8 shipped it is replaced by this
version's, with its translations; a body someone edited is left as it is.
"""

from odoo import SUPERUSER_ID
from odoo import api
from odoo.addons.customer_success.services.upgrade import replace_unedited

XMLID = "mail_template_payment_link"
# The English body 1.8 installed, compared without its whitespace.
SHIPPED_1_8 = (
    "<div><p>Hello <t t-out=\"object.subscription_id.partner_id.name or ''\"/>,</p>"
    '<p>Here is the link to pay <strong t-out="format_amount(object.amount, '
    "object.currency_id) or ''\"/> for your subscription <strong "
    "t-out=\"object.subscription_id.code or object.subscription_id.name or ''\"/>:</p>"
    '<p><a t-att-href="object.payment_link" style="background-color:#117a8b;color:#ffffff;'
    'padding:10px 20px;border-radius:6px;text-decoration:none;display:inline-block">'
    'Pay</a></p><p t-if="object.expires_at">The link is valid until <t '
    't-out="format_datetime(object.expires_at, tz=object.subscription_id.partner_id.tz) '
    "or ''\"/>.</p><p>Reply to this email if you have a question.</p><p>Thank you,<br/>"
    "<t t-out=\"user.name or object.company_id.name or ''\"/></p></div>"
)


def migrate(cr, version):
    if not version:
        return
    replace_unedited(api.Environment(cr, SUPERUSER_ID, {}), XMLID, SHIPPED_1_8)
