# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError


def settled_on(event):
    """The kind of move ``event``'s money is registered on: money back (a refund, a
    lost dispute) on a credit note, a payment on an invoice."""
    return "out_refund" if event.amount < 0 else "out_invoice"


class CsBillingReconcile(models.TransientModel):
    """An accountant registers a provider payment that matched no invoice on the
    invoice it pays, or money that went back (a refund, a lost dispute) on its credit
    note (Billing > Payments to Reconcile > Register on Invoice / on Credit Note)."""

    _name = "cs.billing.reconcile"
    _description = "Register a Provider Payment on an Invoice"

    event_id = fields.Many2one("cs.billing.event", required=True, readonly=True)
    company_id = fields.Many2one(related="event_id.company_id")
    partner_id = fields.Many2one(related="event_id.partner_id")
    currency_id = fields.Many2one(related="event_id.currency_id")
    amount = fields.Monetary(related="event_id.amount")
    move_type = fields.Selection(
        [("out_invoice", "Invoice"), ("out_refund", "Credit Note")],
        compute="_compute_move_type",
        help="A payment is registered on an invoice, money back on a credit note.",
    )
    invoice_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        check_company=True,
        domain="[('move_type', '=', move_type), ('state', '=', 'posted'),"
        " ('payment_state', 'in', ('not_paid', 'partial')),"
        " ('company_id', '=', company_id), ('currency_id', '=', currency_id)]",
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Payment Journal",
        required=True,
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
    )
    payment_date = fields.Date(
        compute="_compute_payment_date",
        store=True,
        readonly=False,
        help="The day the money moved at the provider; when that day is in a locked "
        "period, the first day after the lock date.",
    )

    @api.depends("event_id.amount")
    def _compute_move_type(self):
        for wizard in self:
            wizard.move_type = settled_on(wizard.event_id)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") != "cs.billing.event":
            return values
        event = self.env["cs.billing.event"].browse(self.env.context.get("active_id"))
        values["event_id"] = event.id
        values["journal_id"] = event._payment_journal(event.company_id).id
        # The likeliest invoice (credit note for money back): the customer's open one of
        # that amount, oldest due first.
        open_invoices = self.env["account.move"].search(
            [
                ("move_type", "=", settled_on(event)),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("company_id", "=", event.company_id.id),
                ("currency_id", "=", event.currency_id.id),
                ("commercial_partner_id", "=", event.partner_id.commercial_partner_id.id),
            ],
            order="invoice_date_due, id",
        )
        guess = open_invoices.filtered(
            lambda m: event.currency_id.compare_amounts(m.amount_residual, abs(event.amount)) == 0
        )[:1]
        values["invoice_id"] = (guess or open_invoices[:1]).id
        return values

    @api.depends("event_id", "journal_id")
    def _compute_payment_date(self):
        """The day the event's money moved, else the first day after the lock date."""
        for wizard in self:
            event = wizard.event_id
            if not event:
                wizard.payment_date = False
                continue
            day = event._event_date()
            lock = event.company_id._get_user_fiscal_lock_date(wizard.journal_id)
            wizard.payment_date = max(day, lock + timedelta(days=1)) if lock else day

    def action_register(self):
        self.ensure_one()
        event = self.event_id
        money_back = settled_on(event) == "out_refund"
        if not event.to_reconcile or event.payment_id or not (event.is_payment or money_back):
            raise UserError(
                self.env._(
                    "Only a provider payment or refund waiting to be reconciled can be "
                    "registered; a failed refund is settled by reversing its credit note, "
                    "then marked reconciled."
                )
            )
        if self.invoice_id.move_type != self.move_type:
            raise UserError(
                self.env._("A payment is registered on an invoice, a refund on a credit note.")
            )
        event._pay_invoice(
            self.invoice_id,
            self.journal_id,
            abs(event.amount),
            event.external_id,
            self.payment_date or event._event_date(),
        )
        event._registered_on(self.invoice_id)
        return {"type": "ir.actions.act_window_close"}
