# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError


class CsAssignCsm(models.TransientModel):
    """Hand a set of accounts to a CSM in one go (Accounts list > Actions)."""

    _name = "cs.assign.csm"
    _description = "Assign a CSM to Accounts"

    partner_ids = fields.Many2many("res.partner", string="Accounts", required=True)
    csm_id = fields.Many2one(
        "res.users",
        string="CSM",
        required=True,
        domain=lambda self: [
            ("groups_id", "in", self.env.ref("customer_success.group_cs_user").id)
        ],
    )
    account_count = fields.Integer(compute="_compute_account_count")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "res.partner":
            values["partner_ids"] = [(6, 0, self.env.context.get("active_ids", []))]
        return values

    @api.depends("partner_ids")
    def _compute_account_count(self):
        for wizard in self:
            wizard.account_count = len(wizard.partner_ids)

    def action_assign(self):
        self.ensure_one()
        accounts = self.partner_ids.commercial_partner_id.filtered("cs_is_account")
        if not accounts:
            raise UserError(self.env._("Select at least one customer account."))
        accounts.write({"csm_id": self.csm_id.id})
        return {"type": "ir.actions.act_window_close"}
