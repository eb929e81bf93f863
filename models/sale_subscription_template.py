# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError


class SaleSubscriptionTemplate(models.Model):
    _inherit = "sale.subscription.template"

    cs_tier = fields.Integer(
        string="Plan Tier",
        default=1,
        help="Rank of the plan (1 = entry plan). Moving to a higher tier is an upgrade.",
    )

    @api.constrains("recurring_interval")
    def _check_cs_recurring_interval(self):
        for template in self:
            if template.recurring_interval < 1:
                raise ValidationError(
                    self.env._(
                        "Plan %(name)s: the billing period must repeat every 1 or more units.",
                        name=template.name,
                    )
                )

    def write(self, vals):
        res = super().write(vals)
        if {"recurring_rule_type", "recurring_interval"}.intersection(vals):
            self.env["sale.subscription"].search(
                [("template_id", "in", self.ids)]
            )._cs_sync_ledger()
        return res
