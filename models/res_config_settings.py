# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields
from odoo import models

_SEGMENT_FIELDS = (
    "cs_segment_mid_arr",
    "cs_segment_enterprise_arr",
    "cs_segment_mid_team",
    "cs_segment_enterprise_team",
)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    cs_churn_timing = fields.Selection(related="company_id.cs_churn_timing", readonly=False)
    cs_delinquent_churn_days = fields.Integer(
        related="company_id.cs_delinquent_churn_days", readonly=False
    )
    cs_raw_event_retention_days = fields.Integer(
        related="company_id.cs_raw_event_retention_days", readonly=False
    )
    cs_segment_mid_arr = fields.Monetary(
        related="company_id.cs_segment_mid_arr", readonly=False, currency_field="currency_id"
    )
    cs_segment_enterprise_arr = fields.Monetary(
        related="company_id.cs_segment_enterprise_arr",
        readonly=False,
        currency_field="currency_id",
    )
    cs_segment_mid_team = fields.Integer(related="company_id.cs_segment_mid_team", readonly=False)
    cs_segment_enterprise_team = fields.Integer(
        related="company_id.cs_segment_enterprise_team", readonly=False
    )

    def set_values(self):
        company = self.company_id
        before = {name: company[name] for name in _SEGMENT_FIELDS}
        res = super().set_values()
        if any(company[name] != value for name, value in before.items()):
            self.env["res.partner"].sudo()._cs_recompute_segments(company)
        return res
