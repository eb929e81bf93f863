# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the migration scripts share.

- A ``noupdate`` mail template nobody edited: Odoo keeps the body a database has on
  upgrade. A body still as an earlier version shipped it is replaced by this version's,
  with its translations from the catalogues; a body someone edited is left as it is.
- Stored Stripe events of a charge given their charge (*Provider Object*) from their
  payload, for event types that did not have one when they were stored.
"""

import re

from lxml import etree

from odoo.tools.convert import xml_import
from odoo.tools.misc import file_path

from .providers import stripe_adapter

DATA_FILE = "customer_success/data/mail_template_data.xml"


def bare(html):
    """``html`` without whitespace, to compare bodies however they were indented."""
    return re.sub(r"\s+", "", html or "")


def replace_unedited(env, xmlid, shipped):
    """Load this version's ``xmlid`` template over the database's if its English body
    is still ``shipped`` (the earlier version's); return whether it was replaced."""
    template = env.ref("customer_success.%s" % xmlid, raise_if_not_found=False)
    if not template:
        return False
    if bare(template.with_context(lang="en_US").body_html) != bare(shipped):
        return False  # edited in this database: theirs
    path = file_path(DATA_FILE)
    root = etree.Element("odoo")
    root.append(etree.parse(path).find(".//record[@id='%s']" % xmlid))
    # This record alone, loaded as an update that may overwrite it, then protected again.
    data = env["ir.model.data"].search([("module", "=", "customer_success"), ("name", "=", xmlid)])
    data.noupdate = False
    data.flush_recordset()  # the loader reads the flag with SQL
    xml_import(env, "customer_success", {}, "update", noupdate=False, xml_filename=path).parse(root)
    data.noupdate = True
    # Its translations said the same as the old English: they come again from the catalogues.
    env.flush_all()
    env.cr.execute(
        "UPDATE mail_template SET body_html = jsonb_build_object('en_US', body_html->'en_US')"
        " WHERE id = %s",
        [template.id],
    )
    template.invalidate_recordset()
    env["ir.module.module"].search([("name", "=", "customer_success")])._update_translations()
    return True


def fill_charge_refs(cr, event_types):
    """Give the stored Stripe events of ``event_types`` without a provider object their
    charge, read from their payload."""
    cr.execute(
        """
        SELECT id, payload FROM cs_billing_event
         WHERE provider = 'stripe' AND object_ref IS NULL AND event_type IN %s
        """,
        [tuple(event_types)],
    )
    for event_id, payload in cr.fetchall():
        ref = stripe_adapter.charge_ref(stripe_adapter.stored_object(payload))
        if ref:
            cr.execute("UPDATE cs_billing_event SET object_ref = %s WHERE id = %s", [ref, event_id])
