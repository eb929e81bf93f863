# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import functools

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError


def in_office_language(cron):
    """For a cron's entry point: Odoo runs a cron without a language, which would
    make what it writes for people (to-dos, notes, health explanations) English in a
    Russian office; it runs in the installation's language instead
    (:meth:`ResCompany._cs_cron_lang`). A call with a language keeps it."""

    @functools.wraps(cron)
    def run(self, *args, **kwargs):
        if "lang" not in self.env.context:
            self = self.with_context(lang=self.env["res.company"]._cs_cron_lang())  # noqa: PLW0642
        return cron(self, *args, **kwargs)

    return run


class ResCompany(models.Model):
    _inherit = "res.company"

    cs_churn_timing = fields.Selection(
        [("cancellation", "At cancellation"), ("period_end", "At the end of the paid period")],
        string="Churn Counted",
        default="period_end",
        required=True,
    )
    cs_delinquent_churn_days = fields.Integer(
        string="Delinquent Churn After (days)",
        default=0,
        help="A subscription unpaid for this many days after its due date counts as "
        "churned (delinquent churn) until it is paid. 0 disables delinquent churn.",
    )
    cs_raw_event_retention_days = fields.Integer(
        string="Keep Raw Usage Events (days)",
        default=90,
        help="Raw usage events older than this are deleted; daily aggregates are kept.",
    )
    cs_segment_mid_arr = fields.Monetary(
        string="Mid-market from ARR", currency_field="currency_id", default=0.0
    )
    cs_segment_enterprise_arr = fields.Monetary(
        string="Enterprise from ARR", currency_field="currency_id", default=0.0
    )
    cs_segment_mid_team = fields.Integer(string="Mid-market from Team Size", default=50)
    cs_segment_enterprise_team = fields.Integer(string="Enterprise from Team Size", default=250)

    @api.model
    def _cs_cron_lang(self):
        """The language crons write their to-dos, notes and health explanations in.

        Odoo runs a cron without one, which would make them English in a Russian
        office: they use the installation's language, the administrator's (set when
        the database was created).
        """
        return self._cs_admin().lang or self.env.user.lang or "en_US"

    def _cs_office_tz(self):
        """The time zone of the company's days — the date of a provider's payment, of a
        ledger movement: its address's, else the administrator's (as for the language).
        A payment at 02:00 in Almaty on the 1st is the 1st's, not the last day of the
        previous month in UTC."""
        # Read for each billing event: the time zones alone, not every field of the
        # company's partner and of the administrator.
        unprefetched = self.with_context(prefetch_fields=False)
        return unprefetched.partner_id.tz or unprefetched._cs_admin().tz or "UTC"

    @api.model
    def _cs_admin(self):
        """The administrator (``base.user_admin``), or no user. Its id is cached by Odoo;
        ``env.ref`` would check with a query on every call that the user still exists,
        and this is read for each billing event (a deleted user loses its XML id)."""
        user_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "base.user_admin", raise_if_not_found=False
        )
        return self.env["res.users"].sudo().browse(user_id or [])

    @api.constrains(
        "cs_delinquent_churn_days",
        "cs_raw_event_retention_days",
        "cs_segment_mid_arr",
        "cs_segment_enterprise_arr",
        "cs_segment_mid_team",
        "cs_segment_enterprise_team",
    )
    def _check_cs_thresholds(self):
        for company in self:
            if company.cs_raw_event_retention_days < 1:
                raise ValidationError(self.env._("Raw usage events must be kept at least one day."))
            if company.cs_delinquent_churn_days < 0:
                raise ValidationError(self.env._("The delinquent churn delay cannot be negative."))
            values = (
                company.cs_segment_mid_arr,
                company.cs_segment_enterprise_arr,
                company.cs_segment_mid_team,
                company.cs_segment_enterprise_team,
            )
            if any(v < 0 for v in values):
                raise ValidationError(self.env._("Segment thresholds cannot be negative."))
            if (
                company.cs_segment_mid_arr
                and company.cs_segment_enterprise_arr
                and company.cs_segment_enterprise_arr <= company.cs_segment_mid_arr
            ):
                raise ValidationError(
                    self.env._("The Enterprise ARR threshold must be above the Mid-market one.")
                )
            if (
                company.cs_segment_mid_team
                and company.cs_segment_enterprise_team
                and company.cs_segment_enterprise_team <= company.cs_segment_mid_team
            ):
                raise ValidationError(
                    self.env._(
                        "The Enterprise team-size threshold must be above the Mid-market one."
                    )
                )
