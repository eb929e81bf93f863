# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api
from odoo import fields
from odoo import models

PROVIDERS = [
    ("stripe", "Stripe"),
    ("yookassa", "YooKassa"),
    ("kaspi", "Kaspi.kz"),
]


class CsBillingAccount(models.Model):
    _name = "cs.billing.account"
    _description = "Billing Provider Account"
    _order = "company_id, name"

    name = fields.Char(required=True)
    provider = fields.Selection(PROVIDERS, required=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(
        "res.currency",
        string="Default Currency",
        default=lambda self: self.env.company.currency_id,
    )
    active = fields.Boolean(default=True)
    subscription_ids = fields.One2many("sale.subscription", "billing_account_id")
    subscription_count = fields.Integer(compute="_compute_subscription_count")
    note = fields.Text()

    @api.depends("subscription_ids")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["sale.subscription"]._read_group(
                [("billing_account_id", "in", self.ids)], ["billing_account_id"], ["__count"]
            )
        )
        for account in self:
            account.subscription_count = counts.get(account, 0)

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_oca.sale_subscription_action"
        )
        action["domain"] = [("billing_account_id", "=", self.id)]
        action["context"] = {"default_billing_account_id": self.id}
        return action
