# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import segment as segment_service
from .sale_subscription import PAYMENT_STATUSES

SEGMENTS = [
    ("smb", "SMB"),
    ("mid_market", "Mid-market"),
    ("enterprise", "Enterprise"),
]

# Worst first: the customer shows the most urgent status among running subscriptions.
_STATUS_SEVERITY = ["failed", "overdue", "cancelled", "paid", "none"]


class ResPartner(models.Model):
    _inherit = "res.partner"

    cs_subscription_ids = fields.One2many(
        "sale.subscription", "commercial_partner_id", string="Customer Subscriptions"
    )
    cs_is_account = fields.Boolean(
        string="Is a CS Account",
        compute="_compute_cs_totals",
        store=True,
        index=True,
        help="A commercial entity with at least one subscription.",
    )
    cs_currency_id = fields.Many2one(
        "res.currency", compute="_compute_cs_currency_id", string="CS Currency"
    )
    cs_mrr = fields.Monetary(
        string="MRR",
        currency_field="cs_currency_id",
        compute="_compute_cs_totals",
        store=True,
        help="Total MRR of the running subscriptions, in company currency.",
    )
    cs_arr = fields.Monetary(
        string="ARR", currency_field="cs_currency_id", compute="_compute_cs_totals", store=True
    )
    cs_amount_due = fields.Monetary(
        string="Amount Due",
        currency_field="cs_currency_id",
        compute="_compute_cs_totals",
        store=True,
    )
    cs_payment_status = fields.Selection(
        PAYMENT_STATUSES,
        string="Payment Status",
        compute="_compute_cs_totals",
        store=True,
        index=True,
    )
    cs_plan_names = fields.Char(string="Plans", compute="_compute_cs_totals", store=True)
    cs_running_count = fields.Integer(
        string="Running Subscriptions", compute="_compute_cs_totals", store=True
    )
    next_renewal_date = fields.Date(compute="_compute_cs_totals", store=True, index=True)
    cs_days_to_renewal = fields.Integer(
        string="Days to Renewal", compute="_compute_cs_days_to_renewal"
    )
    customer_since = fields.Date(
        readonly=True, copy=False, help="Date of the customer's first paid MRR."
    )
    csm_id = fields.Many2one(
        "res.users",
        string="CSM",
        tracking=True,
        index=True,
        help="Customer success manager who owns this account.",
    )
    cs_team_size = fields.Integer(
        string="Team Size", help="Number of employees of the customer (segmentation)."
    )
    cs_segment = fields.Selection(
        SEGMENTS,
        string="Segment",
        compute="_compute_cs_segment",
        store=True,
        readonly=False,
        index=True,
        tracking=True,
    )
    cs_segment_locked = fields.Boolean(
        string="Manual Segment",
        help="Keep the segment chosen by hand instead of the automatic thresholds.",
    )
    cs_mrr_movement_ids = fields.One2many("cs.mrr.movement", "partner_id", string="MRR History")
    cs_billing_event_count = fields.Integer(
        string="Billing Events",
        compute="_compute_cs_billing_event_count",
        groups="customer_success.group_cs_user",
    )
    cs_usage_daily_ids = fields.One2many("cs.usage.daily", "partner_id", string="Daily Usage")

    @api.depends_context("company")
    @api.depends("company_id")
    def _compute_cs_currency_id(self):
        for partner in self:
            partner.cs_currency_id = (partner.company_id or self.env.company).currency_id

    @api.depends(
        "cs_subscription_ids.mrr_company",
        "cs_subscription_ids.payment_status",
        "cs_subscription_ids.amount_due",
        "cs_subscription_ids.renewal_date",
        "cs_subscription_ids.stage_id",
        "cs_subscription_ids.template_id",
        "cs_subscription_ids.active",
    )
    def _compute_cs_totals(self):
        for partner in self:
            currency = (partner.company_id or self.env.company).currency_id
            subs = partner.cs_subscription_ids
            running = subs.filtered(lambda s: s.stage_id.type == "in_progress")
            mrr = due = 0.0
            for sub in running:
                sub_currency = sub.company_id.currency_id
                mrr += (
                    sub_currency._convert(
                        sub.mrr_company, currency, sub.company_id, fields.Date.context_today(self)
                    )
                    if sub_currency != currency
                    else sub.mrr_company
                )
                due += (
                    sub.currency_id._convert(
                        sub.amount_due, currency, sub.company_id, fields.Date.context_today(self)
                    )
                    if sub.currency_id != currency
                    else sub.amount_due
                )
            statuses = set(running.mapped("payment_status")) or {"none"}
            partner.cs_is_account = bool(subs)
            partner.cs_mrr = mrr
            partner.cs_arr = mrr * 12.0
            partner.cs_amount_due = due
            partner.cs_payment_status = next(s for s in _STATUS_SEVERITY if s in statuses)
            partner.cs_plan_names = ", ".join(sorted(set(running.template_id.mapped("name"))))
            partner.cs_running_count = len(running)
            dates = [d for d in running.mapped("renewal_date") if d]
            partner.next_renewal_date = min(dates) if dates else False

    @api.depends("next_renewal_date")
    @api.depends_context("cs_today")
    def _compute_cs_days_to_renewal(self):
        today = fields.Date.to_date(self.env.context.get("cs_today")) or fields.Date.context_today(
            self
        )
        for partner in self:
            partner.cs_days_to_renewal = (
                (partner.next_renewal_date - today).days if partner.next_renewal_date else 0
            )

    @api.depends("cs_arr", "cs_team_size", "cs_segment_locked")
    def _compute_cs_segment(self):
        for partner in self:
            if partner.cs_segment_locked and partner.cs_segment:
                continue
            company = partner.company_id or self.env.company
            partner.cs_segment = segment_service.segment_for(
                partner.cs_arr,
                partner.cs_team_size,
                company.cs_segment_mid_arr,
                company.cs_segment_enterprise_arr,
                company.cs_segment_mid_team,
                company.cs_segment_enterprise_team,
            )

    @api.constrains("cs_team_size")
    def _check_cs_team_size(self):
        for partner in self:
            if partner.cs_team_size < 0:
                raise ValidationError(
                    self.env._(
                        "The team size of %(name)s cannot be negative.", name=partner.display_name
                    )
                )

    @api.model
    def _cs_recompute_segments(self, company):
        """Re-apply the segment thresholds of ``company`` in one statement.

        Runs when an admin changes the thresholds; same rule as
        ``services.segment.segment_for``, expressed in SQL so 100k accounts
        take one UPDATE instead of an ORM loop.
        """
        self.flush_model(["cs_arr", "cs_team_size", "cs_segment_locked", "cs_segment"])
        main = company.id == self.env.ref("base.main_company").id
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET cs_segment = CASE
                         WHEN (%(ent_arr)s > 0 AND COALESCE(p.cs_arr, 0) >= %(ent_arr)s)
                           OR (%(ent_team)s > 0 AND COALESCE(p.cs_team_size, 0) >= %(ent_team)s)
                           THEN 'enterprise'
                         WHEN (%(mid_arr)s > 0 AND COALESCE(p.cs_arr, 0) >= %(mid_arr)s)
                           OR (%(mid_team)s > 0 AND COALESCE(p.cs_team_size, 0) >= %(mid_team)s)
                           THEN 'mid_market'
                         ELSE 'smb' END
                 WHERE p.cs_is_account
                   AND NOT COALESCE(p.cs_segment_locked, false)
                   AND (p.company_id = %(company)s OR (%(main)s AND p.company_id IS NULL))
                """,
                ent_arr=company.cs_segment_enterprise_arr or 0.0,
                ent_team=company.cs_segment_enterprise_team or 0,
                mid_arr=company.cs_segment_mid_arr or 0.0,
                mid_team=company.cs_segment_mid_team or 0,
                company=company.id,
                main=main,
            )
        )
        self.invalidate_model(["cs_segment"])

    @api.model
    def _cs_refresh_totals_sql(self, partner_ids):
        """Set-based twin of ``_compute_cs_totals`` for bulk loads (demo, imports).

        Amounts due are converted with each company's latest rate, as
        ``res.currency._convert`` does for today.
        """
        if not partner_ids:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH running AS (
                    SELECT s.commercial_partner_id AS pid, s.mrr_company, s.renewal_date,
                           s.payment_status, t.name AS plan,
                           s.amount_due * COALESCE(
                               (SELECT r.rate FROM res_currency_rate r
                                 WHERE r.currency_id = c.currency_id
                                   AND (r.company_id = s.company_id OR r.company_id IS NULL)
                                   AND r.name <= CURRENT_DATE
                                 ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1), 1)
                           / COALESCE(
                               (SELECT r.rate FROM res_currency_rate r
                                 WHERE r.currency_id = s.currency_id
                                   AND (r.company_id = s.company_id OR r.company_id IS NULL)
                                   AND r.name <= CURRENT_DATE
                                 ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1), 1)
                           AS due_company
                      FROM sale_subscription s
                      JOIN sale_subscription_stage st ON st.id = s.stage_id
                      JOIN res_company c ON c.id = s.company_id
                      LEFT JOIN sale_subscription_template t ON t.id = s.template_id
                     WHERE s.commercial_partner_id = ANY(%(ids)s)
                       AND st.type = 'in_progress' AND s.active
                ), totals AS (
                    SELECT pid,
                           sum(mrr_company) AS mrr,
                           sum(due_company) AS due,
                           min(renewal_date) AS renewal,
                           count(*) AS running,
                           string_agg(DISTINCT plan, ', ' ORDER BY plan) AS plans,
                           CASE WHEN bool_or(payment_status = 'failed') THEN 'failed'
                                WHEN bool_or(payment_status = 'overdue') THEN 'overdue'
                                WHEN bool_or(payment_status = 'cancelled') THEN 'cancelled'
                                WHEN bool_or(payment_status = 'paid') THEN 'paid'
                                ELSE 'none' END AS status
                      FROM running GROUP BY pid
                )
                UPDATE res_partner p
                   SET cs_mrr = COALESCE(t.mrr, 0),
                       cs_arr = COALESCE(t.mrr, 0) * 12,
                       cs_amount_due = ROUND(COALESCE(t.due, 0)::numeric, 2),
                       cs_payment_status = COALESCE(t.status, 'none'),
                       cs_plan_names = t.plans,
                       cs_running_count = COALESCE(t.running, 0),
                       next_renewal_date = t.renewal,
                       cs_is_account = EXISTS (
                           SELECT 1 FROM sale_subscription s2
                            WHERE s2.commercial_partner_id = p.id)
                  FROM res_partner p2
             LEFT JOIN totals t ON t.pid = p2.id
                 WHERE p.id = p2.id AND p.id = ANY(%(ids)s)
                """,
                ids=list(partner_ids),
            )
        )
        self.invalidate_model()

    def action_open_cs_card(self):
        self.ensure_one()
        partner = self.commercial_partner_id
        return {
            "type": "ir.actions.act_window",
            "name": partner.display_name,
            "res_model": "res.partner",
            "res_id": partner.id,
            "view_mode": "form",
            "views": [(self.env.ref("customer_success.res_partner_view_form_cs").id, "form")],
            "context": {"create": False},
        }

    def action_view_cs_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_oca.sale_subscription_action"
        )
        action["domain"] = [("commercial_partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def _compute_cs_billing_event_count(self):
        counts = dict(
            self.env["cs.billing.event"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.cs_billing_event_count = counts.get(partner, 0)

    def action_view_cs_billing_events(self):
        """The customer's payments, failures, refunds and subscription changes as their
        billing providers reported them."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_success.cs_billing_event_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_cs_movements(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_success.cs_mrr_movement_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {}
        return action
