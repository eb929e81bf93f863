# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import ValidationError


class SaleSubscriptionTemplate(models.Model):
    _inherit = "sale.subscription.template"

    cs_tier = fields.Integer(
        string="Plan Tier",
        default=1,
        help="Rank of the plan (1 = entry plan). Moving to a higher tier is an upgrade.",
    )

    cs_seats = fields.Integer(
        string="Seats Included",
        help="Licences (seats) the plan includes when it is priced flat, whatever the team's "
        "size. A new subscription on this plan starts with them, and so does one moved to it "
        "(by hand or by its billing provider, unless the provider bills per seat).",
    )
    cs_provider_plan_refs = fields.Char(
        string="Provider Plan IDs",
        help="Stripe: the price IDs (price_…), lookup keys or product IDs (prod_…) billed as "
        "this plan, separated by commas or spaces. A subscription the provider moves to one "
        "of them is put on this plan: its card shows the new plan.",
    )

    def _cs_plan_refs(self):
        return [ref for ref in re.split(r"[\s,;]+", self.cs_provider_plan_refs or "") if ref]

    @api.model
    @tools.ormcache()
    def _cs_plan_ids_by_ref(self):
        """{provider plan id: plan id}, read once per worker until a plan changes."""
        by_ref = {}
        for template in self.sudo().search([("cs_provider_plan_refs", "!=", False)]):
            for ref in template._cs_plan_refs():
                by_ref.setdefault(ref, template.id)
        return by_ref

    @api.constrains("cs_seats")
    def _check_cs_seats(self):
        for template in self:
            if template.cs_seats < 0:
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: the seats it includes cannot be negative (got %(seats)s).",
                        plan=template.name,
                        seats=template.cs_seats,
                    )
                )

    @api.constrains("cs_provider_plan_refs")
    def _check_cs_provider_plan_refs(self):
        for template in self.filtered("cs_provider_plan_refs"):
            others = self.search(
                [("id", "!=", template.id), ("cs_provider_plan_refs", "!=", False)]
            )
            taken = {ref: other for other in others for ref in other._cs_plan_refs()}
            for ref in template._cs_plan_refs():
                if ref in taken:
                    raise ValidationError(
                        self.env._(
                            "%(ref)s is already the provider plan of %(plan)s: one provider "
                            "plan, one Odoo plan.",
                            ref=ref,
                            plan=taken[ref].name,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        templates = super().create(vals_list)
        if any(vals.get("cs_provider_plan_refs") for vals in vals_list):
            self.env.registry.clear_cache()
        return templates

    def unlink(self):
        mapped = any(self.mapped("cs_provider_plan_refs"))
        res = super().unlink()
        if mapped:
            self.env.registry.clear_cache()
        return res

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
        if "cs_provider_plan_refs" in vals:
            self.env.registry.clear_cache()
        if {"recurring_rule_type", "recurring_interval"}.intersection(vals):
            self.env["sale.subscription"].search(
                [("template_id", "in", self.ids)]
            )._cs_sync_ledger()
        return res
