# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import secrets

from odoo import api
from odoo import fields
from odoo import models

KEY_PREFIX = "cs_"


def hash_key(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class CsApiKey(models.Model):
    """An API key of one integration (the customer's product, a helpdesk...).

    Only the SHA-256 of the key is stored; the key itself is shown once, when
    generated. Revoking archives it. Events sent with it belong to its company.
    """

    _name = "cs.api.key"
    _description = "Customer Success API Key"
    _order = "active desc, name"

    name = fields.Char(required=True, help="The integration using the key, e.g. 'Product events'.")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    active = fields.Boolean(default=True)
    key_hint = fields.Char(string="Key", readonly=True, help="The first characters of the key.")
    key_hash = fields.Char(readonly=True, index=True, copy=False, groups="base.group_system")
    last_used_at = fields.Datetime(readonly=True)
    event_count = fields.Integer(readonly=True)

    _sql_constraints = [("key_hash_uniq", "unique(key_hash)", "This key already exists.")]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.pop("key_hash", None)
        return super().create(vals_list)

    def action_generate(self):
        """Issue a new key (the old one stops working) and show it once."""
        self.ensure_one()
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.sudo().write({"key_hash": hash_key(key), "key_hint": key[:10] + "…", "active": True})
        # Shown once in a sticky notification; never stored in clear, not even transiently.
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Your new API key for %(name)s", name=self.name),
                "message": self.env._("%(key)s — copy it now: it is shown only once.", key=key),
                "sticky": True,
                "type": "warning",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_revoke(self):
        self.sudo().write({"active": False, "key_hash": False})

    @api.model
    def _authenticate(self, key):
        """The active key record for a presented key, or an empty recordset."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return self.browse()
        return self.sudo().search([("key_hash", "=", hash_key(key))], limit=1)
