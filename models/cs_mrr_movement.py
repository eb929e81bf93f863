# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from collections import defaultdict

from odoo import api
from odoo import fields
from odoo import models

from ..services import mrr as mrr_service

MOVEMENT_TYPES = [
    ("new", "New"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
    ("reactivation", "Reactivation"),
]


class CsMrrMovement(models.Model):
    _name = "cs.mrr.movement"
    _description = "MRR Movement"
    _order = "date desc, id desc"
    _rec_name = "movement_type"

    date = fields.Date(required=True, index=True, default=fields.Date.context_today)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="cascade"
    )
    subscription_id = fields.Many2one("sale.subscription", index=True, ondelete="set null")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    movement_type = fields.Selection(MOVEMENT_TYPES, string="Type", required=True, index=True)
    churn_kind = fields.Selection(
        [("voluntary", "Voluntary"), ("delinquent", "Delinquent")],
        help="For churn movements: the customer left (voluntary) or stopped paying (delinquent).",
    )
    amount = fields.Monetary(
        currency_field="company_currency_id",
        help="Signed change of MRR in company currency, at the rate of the movement date.",
    )
    amount_currency = fields.Monetary(
        string="Amount in Currency",
        currency_field="currency_id",
        help="Signed change of MRR in the subscription currency.",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    company_currency_id = fields.Many2one(
        "res.currency",
        related="company_id.currency_id",
        store=True,
        precompute=True,  # in the INSERT, not an UPDATE of every new movement
        string="Company Currency",
    )
    mrr_before = fields.Monetary(
        string="Customer MRR Before",
        currency_field="company_currency_id",
        help="The customer's MRR in company currency just before this movement.",
    )
    mrr_after = fields.Monetary(string="Customer MRR After", currency_field="company_currency_id")
    source = fields.Char(
        required=True,
        default="odoo",
        help="What caused the movement: odoo (an edit), a billing provider, a cron, demo.",
    )
    plan_id = fields.Many2one(
        "sale.subscription.template", string="Plan", related="subscription_id.template_id"
    )
    csm_id = fields.Many2one(related="partner_id.csm_id", string="CSM")
    cs_segment = fields.Selection(related="partner_id.cs_segment", string="Segment")

    def _record_subscription_changes(
        self, subscriptions, movement_date=None, source="odoo", paid_until=None
    ):
        """Classify and store the MRR changes of ``subscriptions`` (B6).

        Each subscription moves from its last recorded MRR (``cs_ledger_mrr``)
        to its current MRR. Classification is per customer and company: the
        customer's MRR before and after, all subscriptions converted at the
        rate of the movement date, so exchange-rate drift never classifies.
        """
        paid_until = paid_until or {}
        base_date = (
            fields.Date.to_date(movement_date)
            if movement_date
            else fields.Date.context_today(self)  # reads the user's time zone: only if needed
        )
        churn_at_period_end = {}
        Sub = self.env["sale.subscription"].sudo().with_context(active_test=False)
        subscriptions = subscriptions.sudo().sorted("id")
        keys = {(s.commercial_partner_id.id, s.company_id.id) for s in subscriptions}
        partner_ids = list({k[0] for k in keys})
        others = Sub.search(
            [("commercial_partner_id", "in", partner_ids), ("cs_ledger_mrr", "!=", 0)]
        )
        state = defaultdict(dict)  # (partner, company) -> {subscription: ledger mrr}
        for sub in others:
            state[(sub.commercial_partner_id.id, sub.company_id.id)][sub] = sub.cs_ledger_mrr
        paid_before = {
            (partner.id, company.id)
            for partner, company in self.sudo()._read_group(
                [("partner_id", "in", partner_ids)], ["partner_id", "company_id"]
            )
        }
        vals_list = []
        first_paid = {}
        recorded = {}  # subscription -> the MRR it now has in the ledger
        for sub in subscriptions:
            company = sub.company_id
            key = (sub.commercial_partner_id.id, company.id)
            old, new = sub.cs_ledger_mrr, sub.mrr
            date = base_date
            if not new and sub.stage_id.type == "post" and not movement_date:
                timing = churn_at_period_end.setdefault(
                    company.id, company.cs_churn_timing == "period_end"
                )
                if timing and paid_until.get(sub.id) and paid_until[sub.id] > date:
                    date = paid_until[sub.id]

            def to_company(amount, currency, date=date, company=company):
                if not amount or currency == company.currency_id:
                    return amount
                return currency._convert(amount, company.currency_id, company, date, round=False)

            before = sum(to_company(v, s.currency_id) for s, v in state[key].items())
            state[key][sub] = new
            after = sum(to_company(v, s.currency_id) for s, v in state[key].items())
            movement_type = mrr_service.classify(before, after, key in paid_before)
            recorded[sub] = new
            if not movement_type:
                continue
            delta = new - old
            churn_kind = False
            if movement_type == mrr_service.CHURN:
                churn_kind = self.env.context.get("cs_churn_kind") or "voluntary"
            vals_list.append(
                {
                    "date": date,
                    "partner_id": key[0],
                    "subscription_id": sub.id,
                    "company_id": company.id,
                    "movement_type": movement_type,
                    "churn_kind": churn_kind,
                    "amount": company.currency_id.round(to_company(delta, sub.currency_id)),
                    "amount_currency": delta,
                    "currency_id": sub.currency_id.id,
                    "mrr_before": company.currency_id.round(before),
                    "mrr_after": company.currency_id.round(after),
                    "source": source,
                }
            )
            if movement_type == mrr_service.NEW:
                first_paid.setdefault(key[0], date)
            paid_before.add(key)
        Sub._cs_set_ledger_mrr(recorded)
        movements = self.create(vals_list)
        if first_paid:
            partners = self.env["res.partner"].sudo().browse(list(first_paid))
            for partner in partners.filtered(lambda p: not p.customer_since):
                partner.customer_since = first_paid[partner.id]
        return movements

    @api.model
    def _mrr_bridge(self, date_from, date_to, company=None):
        """Totals per movement type between two dates (inclusive), company currency."""
        company = company or self.env.company
        groups = self._read_group(
            [
                ("date", ">=", date_from),
                ("date", "<=", date_to),
                ("company_id", "=", company.id),
            ],
            ["movement_type"],
            ["amount:sum"],
        )
        result = dict.fromkeys(mrr_service.MOVEMENT_TYPES, 0.0)
        result.update(dict(groups))
        return result
