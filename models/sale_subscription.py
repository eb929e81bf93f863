# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools import split_every

from ..services import mrr as mrr_service
from .res_company import in_office_language

_BATCH = 1000

PAYMENT_STATUSES = [
    ("none", "No payment yet"),
    ("paid", "Paid"),
    ("overdue", "Overdue"),
    ("failed", "Payment Failed"),
    ("cancelled", "Cancelled"),
]
# Payment statuses of a subscription that owes money: its payment failed or is overdue.
OWING = ("failed", "overdue")

# Domains on a payment request: its invoice still asks payment, or was settled another
# way (paid, reversed or cancelled).
OPEN_INVOICE = [
    ("invoice_id.state", "=", "posted"),
    ("invoice_id.payment_state", "in", ("not_paid", "partial")),
]
# A payment request queued to charge a saved card again after a decline.
QUEUED_RETRY = [("state", "=", "draft"), ("retry_at", "!=", False)]
SETTLED_INVOICE = [
    "|",
    ("invoice_id.state", "=", "cancel"),
    ("invoice_id.payment_state", "in", ("paid", "in_payment", "reversed")),
]

# Providers that renew a subscription on their own schedule and tell of each renewal (a
# payment, a failure, a new period): one due days ago without a word of it points at
# webhooks that no longer arrive.
RENEWED_BY_PROVIDER = ("stripe", "cloudpayments")

# What the inbox matches a billing event to a subscription by.
_BILLING_MATCH_FIELDS = {"billing_account_id", "external_subscription_ref", "code"}
# Fields whose change can move a subscription's MRR (ledger sync after write).
_MRR_FIELDS = {
    "stage_id",
    "template_id",
    "pricelist_id",
    "sale_subscription_line_ids",
    "cs_is_trial",
    "cs_delinquent",
    "cs_paused",
    "active",
}


class SaleSubscription(models.Model):
    _inherit = "sale.subscription"

    commercial_partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        related="partner_id.commercial_partner_id",
        store=True,
        index=True,
    )
    company_currency_id = fields.Many2one(
        "res.currency", related="company_id.currency_id", string="Company Currency"
    )
    mrr = fields.Monetary(
        string="MRR",
        compute="_compute_mrr",
        store=True,
        help="Monthly recurring revenue: the recurring subtotal after discounts and "
        "before taxes, divided by the months in the billing period. Zero for trials and "
        "for subscriptions that are not in progress.",
    )
    arr = fields.Monetary(string="ARR", compute="_compute_mrr", store=True)
    mrr_company = fields.Monetary(
        string="MRR (company currency)",
        currency_field="company_currency_id",
        compute="_compute_mrr_company",
        store=True,
        help="MRR converted at the company's rate of the day it was last computed; "
        "a daily job refreshes it when rates move (FX impact, never a movement).",
    )
    cs_ledger_mrr = fields.Monetary(
        string="MRR in ledger",
        readonly=True,
        copy=False,
        help="The MRR this subscription last wrote to the MRR ledger.",
    )
    renewal_date = fields.Date(
        compute="_compute_renewal_date",
        store=True,
        readonly=False,
        index=True,
        help="End of the current contract term: the finish date for fixed-term "
        "subscriptions, otherwise the next invoice date.",
    )
    renewal_type = fields.Selection(
        [("auto", "Auto-renew"), ("signature", "Needs signature")],
        default="auto",
        required=True,
    )
    payment_status = fields.Selection(
        PAYMENT_STATUSES, default="none", required=True, tracking=True, copy=False
    )
    amount_due = fields.Monetary(copy=False)
    cs_unpaid_since = fields.Date(
        string="Unpaid Since",
        readonly=True,
        copy=False,
        help="Since when the subscription owes: the due date of its oldest unpaid invoice, "
        "or the day its provider first reported the payment failed or overdue. Empty "
        "once it is paid. The health score's payment measure counts the days since.",
    )
    cs_payment_link_count = fields.Integer(
        string="Payment Links",
        compute="_compute_cs_payment_link_count",
        groups="customer_success.group_cs_user",
    )
    cs_billing_event_count = fields.Integer(
        string="Billing Events",
        compute="_compute_cs_billing_event_count",
        groups="customer_success.group_cs_user",
    )
    next_payment_date = fields.Date(copy=False)
    seats = fields.Integer(help="Licences (seats) bought.")
    usage_limit = fields.Float(help="Plan usage limit (units defined by the plan).")
    billing_account_id = fields.Many2one(
        "cs.billing.account",
        string="Billing Account",
        index=True,
        check_company=True,
        copy=False,
    )
    billing_provider = fields.Selection(related="billing_account_id.provider")
    external_customer_ref = fields.Char(string="External Customer ID", index=True, copy=False)
    external_subscription_ref = fields.Char(
        string="External Subscription ID", index=True, copy=False
    )
    cs_payment_method_ref = fields.Char(
        string="Saved Payment Method ID",
        copy=False,
        readonly=True,
        groups="customer_success.group_cs_user,account.group_account_invoice",
        help="YooKassa: the card (or wallet) the customer saved for autopayments when "
        "paying; Robokassa: the number of the payment by card whose card is charged again. "
        "This subscription's invoices are charged to it when its billing account has "
        "Autopayments on. Forgotten when the customer revokes autopayments or the card "
        "expires (YooKassa), or when a Customer Success manager presses Stop Autopayments.",
    )
    cs_payment_method_title = fields.Char(
        string="Autopayments From",
        copy=False,
        readonly=True,
        groups="customer_success.group_cs_user,account.group_account_invoice",
        help="The saved payment method as the provider names it (e.g. Bank card *4444, "
        "Robokassa card 411111******1111).",
    )
    cs_autopay_retry_at = fields.Datetime(
        string="Card Charged Again On",
        compute="_compute_cs_autopay_retry_at",
        groups="customer_success.group_cs_user,account.group_account_invoice",
        help="YooKassa autopayments: when the card YooKassa declined is charged again, "
        "by the billing account's retry schedule.",
    )
    cs_renewal_unheard = fields.Boolean(
        string="Renewal Unheard Of",
        compute="_compute_cs_renewal_unheard",
        search="_search_cs_renewal_unheard",
        help="Renewed by Stripe or CloudPayments on their own schedule, due for renewal longer "
        "ago than its billing account's Silence Alert After, and the provider has told "
        "nothing of it since: no payment, no failure, no new period. Its webhooks may no "
        "longer arrive.",
    )
    cs_is_trial = fields.Boolean(
        string="Trial", copy=False, help="Trials are not MRR until they convert."
    )
    cs_trial_end_date = fields.Date(string="Trial Ends", copy=False)
    cs_delinquent = fields.Boolean(
        string="Delinquent",
        readonly=True,
        copy=False,
        help="Unpaid for longer than the company's delinquent churn delay: "
        "counted as churned until paid.",
    )
    cs_paused = fields.Boolean(
        string="Paused",
        readonly=True,
        copy=False,
        help="Paused at the billing provider (Stripe's status paused): no MRR until it resumes.",
    )
    cs_mrr_movement_ids = fields.One2many(
        "cs.mrr.movement", "subscription_id", string="MRR Movements"
    )

    _sql_constraints = [
        (
            "external_subscription_ref_uniq",
            "unique(billing_account_id, external_subscription_ref)",
            "This external subscription ID is already linked to another subscription "
            "of the same billing account.",
        ),
    ]

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    @api.depends(
        "sale_subscription_line_ids.price_subtotal",
        "template_id.recurring_rule_type",
        "template_id.recurring_interval",
        "stage_id.type",
        "cs_is_trial",
        "cs_delinquent",
        "cs_paused",
        "active",
    )
    def _compute_mrr(self):
        for sub in self:
            counts = (
                sub.active
                and sub.stage_id.type == "in_progress"
                and not sub.cs_is_trial
                and not sub.cs_delinquent
                and not sub.cs_paused
                and sub.template_id
            )
            value = 0.0
            if counts:
                period_total = sum(sub.sale_subscription_line_ids.mapped("price_subtotal"))
                value = mrr_service.monthly_amount(
                    period_total,
                    sub.template_id.recurring_rule_type,
                    sub.template_id.recurring_interval,
                )
                value = sub.currency_id.round(value) if sub.currency_id else value
            sub.mrr = value
            sub.arr = value * 12.0

    @api.depends("mrr", "currency_id", "company_id")
    def _compute_mrr_company(self):
        today = fields.Date.to_date(
            self.env.context.get("cs_fx_date")
        ) or fields.Date.context_today(self)
        for sub in self:
            company = sub.company_id or self.env.company
            if not sub.mrr or not sub.currency_id or sub.currency_id == company.currency_id:
                sub.mrr_company = sub.mrr
                continue
            sub.mrr_company = sub.currency_id._convert(sub.mrr, company.currency_id, company, today)

    @api.depends("date", "recurring_next_date", "recurring_rule_boundary")
    def _compute_renewal_date(self):
        for sub in self:
            sub.renewal_date = sub.date or sub.recurring_next_date or sub.renewal_date

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("seats", "usage_limit")
    def _check_seats(self):
        for sub in self:
            if sub.seats < 0:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s: the number of seats cannot be negative "
                        "(got %(seats)s).",
                        name=sub.display_name,
                        seats=sub.seats,
                    )
                )
            if sub.usage_limit < 0:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s: the usage limit cannot be negative.",
                        name=sub.display_name,
                    )
                )

    @api.constrains("date_start", "date")
    def _check_dates_order(self):
        for sub in self:
            if sub.date_start and sub.date and sub.date < sub.date_start:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s ends on %(end)s, before it starts on "
                        "%(start)s. Fix the start or the finish date.",
                        name=sub.display_name,
                        end=sub.date,
                        start=sub.date_start,
                    )
                )

    @api.constrains("amount_due")
    def _check_amount_due(self):
        for sub in self:
            if sub.amount_due < 0:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s: the amount due cannot be negative.",
                        name=sub.display_name,
                    )
                )

    @api.constrains("billing_account_id", "company_id")
    def _check_billing_account_company(self):
        """The billing account's events are matched to this subscription: both of one
        company (subscription_oca does not check its fields' companies itself)."""
        for sub in self.filtered("billing_account_id"):
            if sub.billing_account_id.company_id != sub.company_id:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s belongs to %(company)s: its billing account "
                        "must be one of that company.",
                        name=sub.display_name,
                        company=sub.company_id.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # ORM hooks: every MRR change inside Odoo reaches the ledger
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        # A subscription created without seats has those its plan includes.
        plans = self.env["sale.subscription.template"].browse(
            {vals["template_id"] for vals in vals_list if vals.get("template_id")}
        )
        seats = {plan.id: plan.cs_seats for plan in plans if plan.cs_seats}
        for vals in vals_list:
            if not vals.get("seats") and seats.get(vals.get("template_id")):
                vals["seats"] = seats[vals["template_id"]]
        subs = super().create(vals_list)
        subs._cs_sync_ledger()
        subs._cs_requeue_unmatched_events()
        return subs

    @api.onchange("template_id")
    def _onchange_template_id_cs_seats(self):
        """Another plan brings the seats it includes, unless someone changed the seats
        from those of the plan before."""
        before = self._origin.template_id.cs_seats if self._origin else 0
        if self.template_id.cs_seats and self.seats in (0, before):
            self.seats = self.template_id.cs_seats

    def write(self, vals):
        if "partner_id" in vals and not self.env.context.get("cs_skip_ledger"):
            new_partner = self.env["res.partner"].browse(vals["partner_id"])
            moved = self.filtered(
                lambda s: (
                    s.cs_ledger_mrr and s.commercial_partner_id != new_partner.commercial_partner_id
                )
            )
            if moved:
                raise ValidationError(
                    self.env._(
                        "Subscription %(name)s already carries revenue for %(customer)s. "
                        "Close it and create a new subscription for the other customer, "
                        "so that both customers' revenue history stays true.",
                        name=moved[0].display_name,
                        customer=moved[0].commercial_partner_id.display_name,
                    )
                )
        # The end of the paid period, captured before OCA clears it on close.
        paid_until = dict(self.env.context.get("cs_paid_until") or {})
        if "stage_id" in vals:
            for sub in self:
                if sub.recurring_next_date:
                    paid_until.setdefault(sub.id, sub.recurring_next_date)
        unpaid, starting = self._cs_unpaid_vals(vals)
        if unpaid:
            vals = dict(vals, **unpaid)
        res = super().write(vals)
        if starting:
            starting.write({"cs_unpaid_since": self._cs_unpaid_day()})
        if _MRR_FIELDS.intersection(vals) and not self.env.context.get("cs_skip_ledger"):
            self._cs_sync_ledger(paid_until=paid_until)
        if _BILLING_MATCH_FIELDS.intersection(vals):
            self._cs_requeue_unmatched_events()
        return res

    def _cs_unpaid_vals(self, vals):
        """*Unpaid Since* for a write of ``vals``: ``(values to write with them,
        subscriptions to date after it)``. Cleared when the payment status stops owing;
        when it starts owing, the day (:meth:`_cs_unpaid_day`) for those that did not owe
        before, in the same write when that is all of them. A date in ``vals`` wins."""
        none = self.browse()
        if "payment_status" not in vals or "cs_unpaid_since" in vals:
            return {}, none
        if vals["payment_status"] not in OWING:
            return ({"cs_unpaid_since": False} if any(self.mapped("cs_unpaid_since")) else {}), none
        starting = self.filtered(lambda s: s.payment_status not in OWING)
        if starting == self:
            return {"cs_unpaid_since": self._cs_unpaid_day()}, none
        return {}, starting  # the others owed already: their day stays

    def _cs_unpaid_day(self):
        """The day a subscription starts to owe: the billing event's (``cs_unpaid_since``
        in the context), else today."""
        return self.env.context.get("cs_unpaid_since") or fields.Date.context_today(self)

    def _cs_requeue_unmatched_events(self):
        """Unmatched billing events that name one of these subscriptions (its provider
        id, or its code) are processed again: a subscription given its provider id
        after its first events arrived gets them applied, without linking each one.
        One query finds them for the whole batch.
        """
        keys = {}
        for sub in self.filtered("billing_account_id"):
            for ref in {sub.external_subscription_ref, sub.code} - {False, None, ""}:
                keys.setdefault((sub.billing_account_id.id, ref), sub)
        if not keys:
            return
        self.env.cr.execute(
            SQL(
                """
                SELECT id, account_id, object_ref FROM cs_billing_event
                 WHERE state = 'unmatched' AND account_id = ANY(%(accounts)s)
                   AND object_ref = ANY(%(refs)s)
                """,
                accounts=list({account for account, _ref in keys}),
                refs=list({ref for _account, ref in keys}),
            )
        )
        found = {}
        for event_id, account_id, ref in self.env.cr.fetchall():
            sub = keys.get((account_id, ref))
            if sub:
                found.setdefault(sub, []).append(event_id)
        if not found:
            return
        for sub, ids in found.items():
            sub._message_log(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "%(count)s billing events that matched no subscription name this one: "
                    "they are processed again.",
                    count=len(ids),
                )
            )
        # Applied at once, as the user's link would be (oldest first, each in its own
        # savepoint), by the inbox's rights: a CSM need not have accounting rights.
        events = (
            self.env["cs.billing.event"].sudo().browse([i for ids in found.values() for i in ids])
        )
        events.sorted(lambda e: (e.event_created or e.create_date, e.id)).action_reprocess()

    def _prepare_account_move(self, line_ids):
        # subscription_oca leaves the invoice in the journal's or the company's currency,
        # so that a subscription priced in dollars or roubles in a tenge company was
        # invoiced its amount in tenge: the invoice is in the subscription's currency,
        # the one its prices and the provider's payments are in.
        values = super()._prepare_account_move(line_ids)
        if self.currency_id:
            values["currency_id"] = self.currency_id.id
        return values

    def close_subscription(self, close_reason_id=False):
        paid_until = {self.id: self.recurring_next_date} if self.recurring_next_date else {}
        return super(
            SaleSubscription, self.with_context(cs_paid_until=paid_until)
        ).close_subscription(close_reason_id=close_reason_id)

    def _cs_open_invoice(self, amount, currency, move_type="out_invoice"):
        """The posted invoice (``move_type="out_refund"``: credit note) of this
        subscription still open for exactly ``amount`` in ``currency``, the oldest due
        first: the one a payment (a refund) of that amount settles."""
        self.ensure_one()
        invoices = self.env["account.move"].search(
            [
                ("subscription_id", "=", self.id),
                ("move_type", "=", move_type),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
                ("currency_id", "=", currency.id if currency else False),
            ],
            order="invoice_date_due, id",
        )
        return invoices.filtered(
            lambda m: currency.compare_amounts(m.amount_residual, amount) == 0
        )[:1]

    def _compute_cs_payment_link_count(self):
        counts = dict(
            self.env["cs.billing.payment.request"]._read_group(
                [("subscription_id", "in", self.ids)], ["subscription_id"], ["__count"]
            )
        )
        for subscription in self:
            subscription.cs_payment_link_count = counts.get(subscription, 0)

    def _compute_cs_autopay_retry_at(self):
        retries = dict(
            self.env["cs.billing.payment.request"]
            .sudo()
            ._read_group(
                [
                    ("subscription_id", "in", self.ids),
                    *QUEUED_RETRY,
                    # not once the invoice is settled: the job then calls it off
                    *OPEN_INVOICE,
                ],
                ["subscription_id"],
                ["retry_at:min"],
            )
        )
        for subscription in self:
            subscription.cs_autopay_retry_at = retries.get(subscription, False)

    def _compute_cs_renewal_unheard(self):
        unheard = {sub_id for _account, sub_id in self._cs_unheard_rows(subscription_ids=self.ids)}
        for subscription in self:
            subscription.cs_renewal_unheard = subscription.id in unheard

    def _search_cs_renewal_unheard(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Renewal Unheard Of is searched as set or not set."))
        unheard = [sub_id for _account, sub_id in self._cs_unheard_rows()]
        return [("id", "in" if (operator == "=") == value else "not in", unheard)]

    @api.model
    def _cs_unheard_rows(self, today=None, account_ids=None, subscription_ids=None):
        """``(billing account id, subscription id)`` of the running subscriptions a
        provider renews on its own schedule (see ``RENEWED_BY_PROVIDER``) whose renewal
        was due longer ago than their account's ``unheard_after_days``, with no word of
        it since, oldest due first; in one query.

        A word of it is anything that moves the next payment date on — a payment (the
        paid period), a failure (the next attempt), a new period — or any event of the
        subscription received since the day it was due (a payment whose period the
        event does not tell: CloudPayments' Pay). A subscription that owes is left out
        (its failure was heard of, its to-dos are the CSM's), and so is one paused at
        the provider, which renews nothing.
        """
        today = today or fields.Date.context_today(self)
        self.flush_model(
            ["billing_account_id", "stage_id", "active", "external_subscription_ref"]
            + ["next_payment_date", "cs_paused", "payment_status"]
        )
        self.env["cs.billing.account"].flush_model(["active", "provider", "unheard_after_days"])
        self.env["cs.billing.event"].flush_model(["subscription_id"])
        only = SQL()
        if account_ids is not None:
            only = SQL("AND a.id = ANY(%s)", list(account_ids))
        if subscription_ids is not None:
            only = SQL("%s AND s.id = ANY(%s)", only, list(subscription_ids))
        self.env.cr.execute(
            SQL(
                """
                SELECT a.id, s.id
                  FROM sale_subscription s
                  JOIN cs_billing_account a ON a.id = s.billing_account_id
                  JOIN sale_subscription_stage st ON st.id = s.stage_id
                 WHERE a.active AND a.provider IN %(providers)s AND a.unheard_after_days > 0
                   AND s.active AND st.type = 'in_progress'
                   AND s.external_subscription_ref IS NOT NULL
                   AND s.next_payment_date < %(today)s::date - a.unheard_after_days
                   AND s.cs_paused IS NOT TRUE
                   AND COALESCE(s.payment_status, 'none') NOT IN %(owing)s
                   AND NOT EXISTS (
                       SELECT 1 FROM cs_billing_event e
                        WHERE e.subscription_id = s.id AND e.create_date >= s.next_payment_date
                   )
                   %(only)s
              ORDER BY s.next_payment_date, s.id
                """,
                providers=RENEWED_BY_PROVIDER,
                today=today,
                owing=OWING,
                only=only,
            )
        )
        return self.env.cr.fetchall()

    def _compute_cs_billing_event_count(self):
        counts = dict(
            self.env["cs.billing.event"]._read_group(
                [("subscription_id", "in", self.ids)], ["subscription_id"], ["__count"]
            )
        )
        for subscription in self:
            subscription.cs_billing_event_count = counts.get(subscription, 0)

    def action_cs_view_billing_events(self):
        """What the billing provider said about this subscription, newest first."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_success.cs_billing_event_action"
        )
        action["domain"] = [("subscription_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_cs_view_payment_links(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_success.cs_billing_payment_request_action"
        )
        action["domain"] = [("subscription_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    def action_cs_link_billing_event(self):
        """Link the unmatched billing event named in the context to this subscription
        and apply it (its "Likely Subscriptions" list)."""
        self.ensure_one()
        event = self.env["cs.billing.event"].browse(self.env.context.get("cs_billing_event_id"))
        if not event.exists() or event.state != "unmatched":
            raise UserError(self.env._("This billing event no longer waits for a subscription."))
        event.subscription_id = self
        event.action_reprocess()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_cs_payment_link(self):
        """Create and send a payment link for the amount due, else the next period
        (manual renewal): Kaspi QR or Robokassa, as the billing account is."""
        self.ensure_one()
        if not self.billing_account_id:
            raise UserError(
                self.env._(
                    "Payment links are made through the subscription's billing account: give "
                    "%(subscription)s a Kaspi, YooKassa or Robokassa account first.",
                    subscription=self.display_name,
                )
            )
        amount = self.amount_due or self.amount_total
        invoice = self.sudo()._cs_open_invoice(amount, self.currency_id)
        waiting = self.env["cs.billing.payment.request"]._waiting_for(
            invoice, self.billing_account_id, amount
        )
        if waiting:
            # Opened, not made again: two live links of one invoice could both be paid.
            waiting = waiting.with_env(self.env)
            waiting.check_access("read")
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "message": self.env._(
                        "Invoice %(invoice)s already has a payment request waiting: send "
                        "that one again rather than a second the customer could pay too.",
                        invoice=waiting.sudo().invoice_id.name,
                    ),
                    "next": waiting.get_formview_action(),
                },
            }
        request = self._cs_payment_request(amount, invoice)
        request.action_send()
        return request.get_formview_action()

    def _cs_payment_request(self, amount, invoice=None):
        """A new payment request of ``amount`` through the billing account, naming the
        open invoice it pays if one asks for that amount (``invoice`` when the caller
        found it already; read as superuser: a CSM need not have invoicing rights)."""
        if invoice is None:
            invoice = self.sudo()._cs_open_invoice(amount, self.currency_id)
        return self.env["cs.billing.payment.request"].create(
            {
                "account_id": self.billing_account_id.id,
                "subscription_id": self.id,
                "amount": amount,
                "currency_id": self.currency_id.id,
                "invoice_id": invoice.id,
            }
        )

    def action_cs_charge_saved_card(self):
        """Charge what the subscription owes to the card its customer saved (YooKassa and
        Robokassa autopayments): the retry after a declined charge, once the customer
        says the card can pay. The provider's refusal is shown and nothing is kept."""
        self.ensure_one()
        if not self.env.user.has_group("customer_success.group_cs_manager"):
            raise AccessError(
                self.env._("Only Customer Success managers charge a customer's saved card.")
            )
        Request = self.env["cs.billing.payment.request"]
        if not Request._autopays(self) or self.currency_id.is_zero(self.amount_due):
            raise UserError(
                self.env._(
                    "Only a subscription that owes, billed through a YooKassa or Robokassa "
                    "account that charges saved cards, whose customer saved a card, can be "
                    "charged."
                )
            )
        if Request.search_count(
            [
                ("subscription_id", "=", self.id),
                ("autopayment", "=", True),
                ("state", "=", "waiting"),
            ]
        ):
            raise UserError(
                self.env._(
                    "A charge of %(subscription)s is waiting for %(provider)s already.",
                    subscription=self.display_name,
                    provider=self.billing_account_id._provider_name(),
                )
            )
        request = self._cs_payment_request(self.amount_due)
        request._charge_saved_card()
        return request.get_formview_action()

    def action_cs_forget_saved_card(self):
        """Stop charging the card the customer saved (they asked to unlink it, or pay
        another way from now on): the next invoices get payment links where the account
        makes them; a charge queued for a declined one is called off. Said in the
        chatter."""
        self.ensure_one()
        if not self.env.user.has_group("customer_success.group_cs_manager"):
            raise AccessError(
                self.env._("Only Customer Success managers stop a customer's autopayments.")
            )
        if not self.sudo().cs_payment_method_ref:
            raise UserError(self.env._("%(subscription)s has no saved card.",
                                       subscription=self.display_name))  # fmt: skip
        self._cs_forget_saved_card(
            lambda title: self.env._(
                "%(user)s stopped the autopayments from %(method)s: the next invoices are "
                "not charged to it.",
                user=self.env.user.name,
                method=title,
            )
        )
        retries = (
            self.env["cs.billing.payment.request"]
            .sudo()
            .search([("subscription_id", "=", self.id), *QUEUED_RETRY])
        )
        stopped = self.env._("Autopayments stopped by %(user)s.", user=self.env.user.name)
        retries.write({"state": "cancelled", "last_message": stopped})
        return True

    def _cs_save_card(self, ref, title, said):
        """Keep the card ``ref`` the customer paid with, named ``title``, for
        autopayments, and ``said(its name)`` in the chatter; nothing when it is the card
        kept already."""
        self.ensure_one()
        subscription = self.sudo()
        if subscription.cs_payment_method_ref == ref:
            return
        subscription.write(
            {"cs_payment_method_ref": ref[:64], "cs_payment_method_title": (title or "")[:128]}
        )
        name = subscription.cs_payment_method_title or subscription.cs_payment_method_ref
        subscription._message_log(body=Markup("<p>%s</p>") % said(name))

    def _cs_forget_saved_card(self, said):
        """The saved card is charged no more: forgotten, and ``said(its name)`` in the
        chatter."""
        self.ensure_one()
        subscription = self.sudo()
        title = subscription.cs_payment_method_title or subscription.cs_payment_method_ref
        subscription.write({"cs_payment_method_ref": False, "cs_payment_method_title": False})
        subscription._message_log(body=Markup("<p>%s</p>") % said(title))

    @api.model
    def _cs_set_ledger_mrr(self, values):
        """Store ``{subscription: MRR}`` as the MRR each last wrote to the ledger: an
        internal figure nothing is computed from or tracked on, so it is set in the
        cache, marked to be written, without a write's recomputations. The rows are
        written with the rest of the subscription at the next flush: one UPDATE of
        each row, not a second one (every index of the table rewritten twice)."""
        if not values:
            return
        field = self._fields["cs_ledger_mrr"]
        subs = self.browse([sub.id for sub in values])
        cached = [field.convert_to_cache(mrr, subs) for mrr in values.values()]
        self.env.cache.update(subs, field, cached, dirty=True)

    def _cs_sync_ledger(self, movement_date=None, source=None, paid_until=None):
        """Write one MRR movement for each subscription whose MRR moved.

        The single entry point for the ledger: ORM edits, crons, the demo
        generator and the billing webhooks all end here.
        """
        if self.env.context.get("cs_skip_ledger"):
            return self.env["cs.mrr.movement"]
        changed = self.filtered(
            lambda s: s.currency_id and s.currency_id.compare_amounts(s.mrr, s.cs_ledger_mrr) != 0
        )
        if not changed:
            return self.env["cs.mrr.movement"]
        return (
            self.env["cs.mrr.movement"]
            .sudo()
            ._record_subscription_changes(
                changed,
                movement_date=movement_date or self.env.context.get("cs_movement_date"),
                source=source or self.env.context.get("cs_movement_source") or "odoo",
                paid_until=paid_until or {},
            )
        )

    # ------------------------------------------------------------------
    # Payment status from Odoo invoices (subscriptions not run by a provider)
    # ------------------------------------------------------------------
    def _cs_refresh_payment_status(self, today=None):
        """Set payment status, amount due and next payment date from posted invoices.

        Set-based: one aggregate query for all given subscriptions, then one
        UPDATE per distinct result. Subscriptions synced by a billing provider
        are left alone: their webhooks own those fields.
        """
        subs = self.filtered(lambda s: not s.billing_account_id)
        if not subs:
            return
        today = today or fields.Date.context_today(self)
        self.env["account.move"].flush_model(
            ["subscription_id", "amount_residual", "invoice_date_due", "state", "payment_state"]
        )
        self.flush_recordset(["recurring_next_date", "stage_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT s.id,
                       CASE
                         WHEN bool_or(m.amount_residual > 0 AND m.invoice_date_due < %(today)s)
                           THEN 'overdue'
                         WHEN bool_or(m.payment_state IN ('paid', 'in_payment'))
                           THEN 'paid'
                         ELSE 'none'
                       END,
                       COALESCE(sum(m.amount_residual) FILTER (WHERE m.amount_residual > 0), 0),
                       COALESCE(min(m.invoice_date_due) FILTER (WHERE m.amount_residual > 0),
                                CASE WHEN st.type = 'in_progress' THEN s.recurring_next_date END)
                  FROM sale_subscription s
             LEFT JOIN sale_subscription_stage st ON st.id = s.stage_id
             LEFT JOIN account_move m ON m.subscription_id = s.id
                       AND m.state = 'posted' AND m.move_type = 'out_invoice'
                 WHERE s.id = ANY(%(ids)s)
              GROUP BY s.id, st.type, s.recurring_next_date
                """,
                today=today,
                ids=subs.ids,
            )
        )
        for sub_id, status, due, next_date in self.env.cr.fetchall():
            sub = self.browse(sub_id)
            vals = {}
            if sub.payment_status != status:
                vals["payment_status"] = status
            if sub.currency_id.compare_amounts(sub.amount_due, due or 0.0):
                vals["amount_due"] = due
            if sub.next_payment_date != next_date:
                vals["next_payment_date"] = next_date
            # Owing since its oldest unpaid invoice fell due.
            since = next_date if status in OWING else False
            if sub.cs_unpaid_since != since:
                vals["cs_unpaid_since"] = since
            if vals:
                sub.write(vals)

    @api.model
    @in_office_language
    def _cron_customer_success_daily(self, today=None):
        """Daily upkeep: trials ending, payment status, delinquency, lapsed collection
        pauses, FX refresh, renewals a provider told nothing of, YooKassa notifications
        missed."""
        today = today or fields.Date.context_today(self)
        # Trials that ended convert into paying subscriptions (a "new" movement).
        ended = self.search([("cs_is_trial", "=", True), ("cs_trial_end_date", "<", today)])
        if ended:
            ended.with_context(cs_movement_source="trial_end").write({"cs_is_trial": False})
        running = self.search(
            [("stage_id.type", "=", "in_progress"), ("billing_account_id", "=", False)]
        )
        for batch in split_every(_BATCH, running.ids, self.browse):
            batch._cs_refresh_payment_status(today=today)
        self._cs_update_delinquency(today=today)
        self._cs_end_lapsed_collection_pauses(today=today)
        self._cs_refresh_fx(today=today)
        self.env["cs.billing.account"]._alert_unheard(today=today)
        self.env["cs.billing.account"]._alert_missed_notifications()

    @api.model
    def _cs_update_delinquency(self, today=None):
        """Delinquent churn: unpaid longer than the company's delay counts as churn."""
        today = today or fields.Date.context_today(self)
        for company in self.env["res.company"].search([]):
            days = company.cs_delinquent_churn_days
            domain_company = [("company_id", "=", company.id)]
            if days <= 0:
                back = self.search(domain_company + [("cs_delinquent", "=", True)])
            else:
                limit = fields.Date.subtract(today, days=days)
                self.env.cr.execute(
                    SQL(
                        """
                        SELECT DISTINCT m.subscription_id
                          FROM account_move m
                         WHERE m.company_id = %(company)s
                           AND m.subscription_id IS NOT NULL
                           AND m.state = 'posted' AND m.move_type = 'out_invoice'
                           AND m.amount_residual > 0
                           AND m.invoice_date_due < %(limit)s
                        """,
                        company=company.id,
                        limit=limit,
                    )
                )
                late_ids = [r[0] for r in self.env.cr.fetchall()]
                late = self.browse(late_ids).filtered(
                    lambda s: not s.cs_delinquent and s.stage_id.type == "in_progress"
                )
                late.with_context(
                    cs_movement_source="delinquency", cs_churn_kind="delinquent"
                ).write({"cs_delinquent": True})
                back = self.search(
                    domain_company + [("cs_delinquent", "=", True), ("id", "not in", late_ids)]
                )
            back.with_context(cs_movement_source="payment").write({"cs_delinquent": False})

    @api.model
    def _cs_refresh_fx(self, today=None):
        """Re-convert foreign-currency MRR at today's rate (FX impact, no movement)."""
        if today:
            self = self.with_context(cs_fx_date=today)
        self.flush_model(["mrr", "currency_id", "company_id"])
        self.env.cr.execute(
            """
            SELECT s.id
              FROM sale_subscription s
              JOIN res_company c ON c.id = s.company_id
             WHERE s.mrr <> 0 AND s.currency_id <> c.currency_id
            """
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        for batch in split_every(_BATCH, ids, self.browse):
            self.env.add_to_compute(self._fields["mrr_company"], batch)
            batch.flush_recordset(["mrr_company"])
