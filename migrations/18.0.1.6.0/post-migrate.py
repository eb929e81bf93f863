# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.6: the failed-payment email promises a retry only when the provider has one
scheduled (and names its date); otherwise it tells the client a payment link follows.

The template is ``noupdate``: an upgrade keeps the body a database has. A body still
as 1.5 shipped it is replaced by this version's, with its translations from the
catalogues; a body someone edited is left as it is.
"""

import re

from lxml import etree

from odoo import SUPERUSER_ID
from odoo import api
from odoo.tools.convert import xml_import
from odoo.tools.misc import file_path

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


def _bare(html):
    return re.sub(r"\s+", "", html or "")


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    template = env.ref("customer_success.%s" % XMLID, raise_if_not_found=False)
    if not template:
        return
    if _bare(template.with_context(lang="en_US").body_html) != _bare(SHIPPED_1_5):
        return  # edited in this database: theirs
    path = file_path("customer_success/data/mail_template_data.xml")
    root = etree.Element("odoo")
    root.append(etree.parse(path).find(".//record[@id='%s']" % XMLID))
    # This record alone, loaded as an update that may overwrite it, then protected again.
    data = env["ir.model.data"].search([("module", "=", "customer_success"), ("name", "=", XMLID)])
    data.noupdate = False
    data.flush_recordset()  # the loader reads the flag with SQL
    xml_import(env, "customer_success", {}, "update", noupdate=False, xml_filename=path).parse(root)
    data.noupdate = True
    # Its translations said the same as the old English: they come again from the catalogues.
    env.flush_all()
    cr.execute(
        "UPDATE mail_template SET body_html = jsonb_build_object('en_US', body_html->'en_US')"
        " WHERE id = %s",
        [template.id],
    )
    template.invalidate_recordset()
    module = env["ir.module.module"].search([("name", "=", "customer_success")])
    module._update_translations()
