# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import threading
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import UserError

from ..services.providers import kaspi_adapter
from ..services.providers.common import BillingEvent
from ..services.providers.common import WebhookError
from .cs_billing_account import ASKED_PROVIDERS
from .cs_billing_event import asks_payment
from .res_company import in_office_language
from .sale_subscription import OPEN_INVOICE
from .sale_subscription import QUEUED_RETRY
from .sale_subscription import SETTLED_INVOICE

_logger = logging.getLogger(__name__)

LINK_PROVIDERS = ("kaspi", "yookassa", "robokassa")  # accounts that make payment links
POLLED_PROVIDERS = ("kaspi",)  # links whose payment only polling sees
# Waiting requests withdrawn when their invoice is settled another way: links of the
# providers that notify (a payment through one still arrives), invoices in the Kaspi
# app (taken back at Kaspi), never autopayments under way. Kaspi's links are left to
# their polling, which alone would see a payment through them.
WITHDRAWABLE = [
    "|",
    ("account_id.provider", "not in", POLLED_PROVIDERS),
    ("phone", "!=", False),
    ("autopayment", "=", False),
]
# How often an invoice in the Kaspi app is polled, by its age (seconds): it waits
# for the customer's tap, which may come days later.
REMOTE_POLLS = ((3600, 60), (86400, 600), (None, 3600))
REMOTE_DAYS = 30  # then it is taken back at Kaspi and expires


class CsBillingEventKaspi(models.Model):
    """Kaspi Платежи (check / pay) and the payments of Kaspi QR renewal links."""

    _inherit = "cs.billing.event"

    @api.model
    def _kaspi_find_subscription(self, account, number):
        return self._subscription_by_ref(account, number, [("stage_id.type", "=", "in_progress")])

    @api.model
    def _kaspi_handle(self, account, params):
        """Answer one check/pay request; returns the XML Kaspi expects."""
        txn_id = (params.get("txn_id") or "").strip()
        try:
            command, txn_id, number, amount, txn_date = kaspi_adapter.parse_request(params)
        except kaspi_adapter.KaspiRequestError as exc:
            return kaspi_adapter.response_xml(txn_id, exc.result, exc.comment)
        subscription = self._kaspi_find_subscription(account, number)
        if not subscription:
            return kaspi_adapter.response_xml(
                txn_id, kaspi_adapter.ACCOUNT_NOT_FOUND, "Account not found"
            )
        if command == "check":
            due = subscription.amount_due or subscription.recurring_total
            return kaspi_adapter.response_xml(
                txn_id, kaspi_adapter.OK, subscription.commercial_partner_id.name, amount=due
            )
        event = BillingEvent(
            external_id="pay:%s" % txn_id,
            event_type="pay",
            created=kaspi_adapter.timestamp(txn_date) if txn_date else 0,
            payload={
                "command": "pay",
                "txn_id": txn_id,
                "account": number,
                "sum": amount,
                "txn_date": params.get("txn_date"),
            },
        )
        record, _created = self._store(account, event)
        if record.payload and record._data().get("sum") != amount:
            return kaspi_adapter.response_xml(
                txn_id,
                kaspi_adapter.OTHER_ERROR,
                "txn_id already used with another sum",
                prv_txn=record.id,
            )
        return kaspi_adapter.response_xml(
            txn_id, kaspi_adapter.OK, "OK", prv_txn=record.id, amount=amount
        )

    def _apply_kaspi(self):
        self.ensure_one()
        data = self._data()
        if self.event_type == "pay":
            subscription = self.subscription_id or self._kaspi_find_subscription(
                self.account_id, data.get("account") or "-"
            )
            reference = data.get("txn_id")
        elif self.event_type == "qr.processed":
            request = self.env["cs.billing.payment.request"].browse(data.get("request_id"))
            subscription = self.subscription_id or request.subscription_id
            reference = data.get("qr_payment_id")
        else:
            return "ignored", self.env._("Event type not used by Customer Success.")
        if not subscription:
            return "unmatched", self.env._(
                "No running subscription of this account has the number %(ref)s.",
                ref=data.get("account") or "-",
            )
        subscription = self._bind(subscription)
        currency = self._find_currency("KZT", subscription.currency_id)
        return self._effect_payment_succeeded(
            subscription,
            float(data.get("sum") or 0.0),
            currency,
            reference,
            subscription.recurring_next_date,
        )


class CsBillingPaymentRequest(models.Model):
    """A payment link sent to a customer for a renewal: Kaspi QR (polled until paid),
    YooKassa or Robokassa (paid when the provider's notification arrives)."""

    _name = "cs.billing.payment.request"
    _inherit = ["mail.thread"]
    _description = "Provider Payment Request"
    _order = "id desc"

    account_id = fields.Many2one(
        "cs.billing.account",
        string="Billing Account",  # "Account" is a customer everywhere else
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    subscription_id = fields.Many2one(
        "sale.subscription", required=True, index=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(related="subscription_id.commercial_partner_id", store=True)
    amount = fields.Monetary(required=True)
    currency_id = fields.Many2one("res.currency", required=True)
    provider = fields.Selection(related="account_id.provider")
    external_id = fields.Char(string="Provider Payment ID", index=True, readonly=True, copy=False)
    payment_link = fields.Char(readonly=True, copy=False)
    state = fields.Selection(
        [
            ("draft", "Queued"),
            ("waiting", "Waiting for payment"),
            ("processed", "Paid"),
            ("error", "Error"),
            ("expired", "Expired"),
            ("cancelled", "Cancelled"),
            ("withdrawn", "Withdrawn"),
        ],
        default="draft",
        required=True,
        index=True,
        readonly=True,
    )
    phone = fields.Char(
        string="Sent to Phone",
        readonly=True,
        copy=False,
        help="Kaspi: the customer's mobile number the invoice was sent to in the Kaspi app "
        "(Invoice to the Kaspi App); there is no link then.",
    )
    notification_missed_at = fields.Datetime(
        string="Notification Missed",
        readonly=True,
        copy=False,
        help="YooKassa, Robokassa: the provider's notification of this payment did not "
        "come: when its outcome was asked of the provider's API instead (an hour or more "
        "after the payment was made) and applied.",
    )
    poll_interval = fields.Integer(default=5, readonly=True, help="Seconds between polls.")
    next_poll_at = fields.Datetime(index=True, readonly=True)
    expires_at = fields.Datetime(readonly=True)
    last_message = fields.Char(readonly=True)
    event_id = fields.Many2one("cs.billing.event", readonly=True)
    invoice_id = fields.Many2one(
        "account.move",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        copy=False,
        help="The invoice this link pays: the one it was made for when it was posted "
        "(billing accounts with Payment Links for Invoices), or the open invoice of its "
        "amount when the link was made with the Payment Link button.",
    )

    attempt = fields.Integer(
        readonly=True,
        copy=False,
        help="Autopayments: which charge of its invoice this is, 1 the first, 2 the first "
        "retry after a decline; 0 for a charge made by hand.",
    )
    card_ref = fields.Char(
        string="Card Charged",
        readonly=True,
        copy=False,
        groups="customer_success.group_cs_user,account.group_account_invoice",
        help="Autopayments: the saved card (its provider id) this request charged. After "
        "the last retry of the schedule is declined too, that card is charged no more.",
    )
    invoice_name = fields.Char(
        related="invoice_id.name",
        string="Invoice Number",
        help="Read as the system: the email to the customer names the invoice, whoever "
        "sends it (a CSM need not read invoices).",
    )
    reminder_count = fields.Integer(
        string="Reminders Sent",
        readonly=True,
        copy=False,
        help="How many times the link was emailed again to the customer as a reminder.",
    )
    remind_at = fields.Datetime(
        string="Next Reminder",
        readonly=True,
        copy=False,
        help="When the link is emailed again while its invoice is unpaid, by the billing "
        "account's Remind After (Days).",
    )
    retry_at = fields.Datetime(
        string="Not Before",
        readonly=True,
        copy=False,
        help="A charge queued again after a declined autopayment is made from then on.",
    )

    @api.depends("subscription_id", "amount", "currency_id", "phone")
    def _compute_display_name(self):
        for request in self:
            names = {
                "subscription": request.subscription_id.code
                or request.subscription_id.display_name,
                "amount": tools.format_amount(self.env, request.amount, request.currency_id),
            }
            request.display_name = (
                self.env._("Invoice in the Kaspi app %(subscription)s, %(amount)s", **names)
                if request.phone
                else self.env._("Payment link %(subscription)s, %(amount)s", **names)
            )

    def _client(self):
        from ..services.providers.kaspi_client import KaspiQrClient  # noqa: PLC0415

        account = self.account_id.sudo()
        return KaspiQrClient(account.kaspi_api_url, account.api_key)

    def action_send(self):
        for request in self.filtered(lambda r: r.state == "draft"):
            send = getattr(request, "_send_%s" % request.account_id.provider, None)
            if send is None:
                raise UserError(
                    self.env._(
                        "Payment links are made through Kaspi, YooKassa and Robokassa accounts; "
                        "%(account)s is not one.",
                        account=request.account_id.display_name,
                    )
                )
            try:
                send()
            except (WebhookError, ValueError, OSError) as exc:
                # Missing credentials, the provider's refusal, an unreachable API
                # (requests' errors are OSErrors): said to the user, nothing kept.
                raise UserError(
                    self.env._("The payment link could not be made: %(reason)s", reason=str(exc))
                ) from exc
        return True

    @api.model
    def _waiting_for(self, invoice, account, amount):
        """The newest request of ``invoice`` through ``account`` still waiting for the
        customer to pay ``amount``: a link not expired, or an invoice in the Kaspi app
        (read as the system: whoever asks need not see every request). A second one
        for the same invoice would let the customer pay it twice."""
        if not invoice:
            return self.browse()
        waiting = self.sudo().search(
            [
                ("invoice_id", "=", invoice.id),
                ("account_id", "=", account.id),
                ("state", "=", "waiting"),
                ("autopayment", "=", False),
                "|",
                ("payment_link", "!=", False),
                ("phone", "!=", False),
                "|",
                ("expires_at", "=", False),
                ("expires_at", ">", fields.Datetime.now()),
            ],
            order="id desc",
            limit=1,
        )
        if waiting and waiting.currency_id.compare_amounts(waiting.amount, amount):
            return self.browse()
        return waiting

    def action_kaspi_link_instead(self):
        """The customer would rather pay by link (no Kaspi app on that phone, paying
        from another one): the invoice waiting in the Kaspi app is cancelled at Kaspi,
        then a payment link for the same amount and invoice is made, to send by email
        or copy. Kaspi's refusal (the invoice paid meanwhile, say) or an unreachable
        Kaspi is shown and nothing changes."""
        self.ensure_one()
        self.check_access("write")
        if not (self.provider == "kaspi" and self.phone and self.state == "waiting"):
            raise UserError(
                self.env._("Only an invoice waiting in the Kaspi app can be replaced by a link.")
            )
        try:
            self.sudo()._take_back()
        except Exception as exc:  # noqa: BLE001 - the provider's refusal, the network
            raise UserError(
                self.env._(
                    "Kaspi did not cancel the invoice in the Kaspi app (%(reason)s), so no "
                    "link was made: the customer could pay twice. Try again later.",
                    reason=str(exc)[:200],
                )
            ) from exc
        self.write(
            {
                "state": "withdrawn",
                "next_poll_at": False,
                "last_message": self.env._(
                    "Cancelled in the Kaspi app by %(user)s: a payment link replaces it.",
                    user=self.env.user.name,
                ),
            }
        )
        link = self.create(
            {
                "account_id": self.account_id.id,
                "subscription_id": self.subscription_id.id,
                "invoice_id": self.sudo().invoice_id.id,
                "amount": self.amount,
                "currency_id": self.currency_id.id,
            }
        )
        link.with_context(cs_kaspi_link=True).action_send()
        return link.get_formview_action()

    def action_cancel_retry(self):
        """Call off a scheduled charge of a declined autopayment (the customer asked to
        wait, or pays another way); said in the subscription's chatter."""
        for request in self.filtered(lambda r: r.state == "draft" and r.retry_at):
            request.write(
                {
                    "state": "cancelled",
                    "last_message": self.env._(
                        "Retry called off by %(user)s.", user=self.env.user.name
                    ),
                }
            )
            request.subscription_id.sudo()._message_log(
                body=self.env._(
                    "%(user)s called off the charge of the saved card planned for %(day)s.",
                    user=self.env.user.name,
                    day=tools.format_datetime(self.env, request.retry_at),
                )
            )
        return True

    def action_send_by_email(self):
        """Open the email to the customer with the link, editable before it goes; it is
        kept in the link's chatter."""
        self.ensure_one()
        if self.state != "waiting" or not self.payment_link:
            raise UserError(self.env._("Only a link waiting for payment can be sent."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send the Payment Link"),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": self._composer_context("customer_success.mail_template_payment_link"),
        }

    def _composer_context(self, template_xmlid):
        """The context of an email of this request to the customer, written from the
        template ``template_xmlid`` and kept in its chatter."""
        return {
            "default_model": self._name,
            "default_res_ids": self.ids,
            "default_template_id": self.env.ref(template_xmlid).id,
            "default_composition_mode": "comment",
            "default_email_layout_xmlid": "mail.mail_notification_light",
        }

    @api.model
    def _request_for_invoices(self, invoices):
        """Queue a payment link for each posted customer invoice, with something to
        pay, of a subscription billed through an account that makes them for its
        invoices (``invoice_payment_links``) or that charges the customer's saved card
        (:meth:`_autopays`); the job :meth:`_cron_send_invoice_links` makes them at the
        provider and emails them, or charges the card. One request per invoice."""
        invoices = invoices.sudo().filtered(
            lambda move: (
                move.move_type == "out_invoice"
                and (
                    move.subscription_id.billing_account_id.invoice_payment_links
                    or self._autopays(move.subscription_id)
                )
                and move.subscription_id.billing_account_id.provider in LINK_PROVIDERS
                and asks_payment(move)
            )
        )
        if not invoices:
            return self.browse()
        taken = self.sudo().search(
            [("invoice_id", "in", invoices.ids), ("state", "in", ("draft", "waiting", "processed"))]
        )
        requests_ = self.sudo().create(
            [
                {
                    "account_id": move.subscription_id.billing_account_id.id,
                    "subscription_id": move.subscription_id.id,
                    "invoice_id": move.id,
                    "amount": move.amount_residual,
                    "currency_id": move.currency_id.id,
                }
                for move in invoices - taken.invoice_id
            ]
        )
        job = self.env.ref(
            "customer_success.ir_cron_invoice_payment_links", raise_if_not_found=False
        )
        if requests_ and job:  # an invoice is posted even if the job was deleted
            job._trigger()
        return requests_

    @api.model
    @in_office_language
    def _cron_send_invoice_links(self, limit=50):
        """Make and email the links queued for posted invoices; each is committed on
        its own (each is a call to the provider: a link made is never made twice)."""
        testing = getattr(threading.current_thread(), "testing", False)
        self._withdraw_settled_links()
        self._send_reminders(limit=limit)
        due = [
            ("state", "=", "draft"),
            ("invoice_id", "!=", False),
            "|",
            ("retry_at", "=", False),
            ("retry_at", "<=", fields.Datetime.now()),
        ]
        requests_ = self.search(due, limit=limit, order="id")
        for request in requests_:
            request._send_for_invoice()
            if not testing:
                self.env.cr.commit()
        remaining = self.search_count(due)
        self.env["ir.cron"]._notify_progress(done=len(requests_), remaining=remaining)

    @api.model
    def _withdraw_settled_links(self):
        """Links still waiting for an invoice paid, reversed or cancelled another way (a
        bank transfer, another link, a credit note) are *Withdrawn*, with the reason,
        so nobody chases a customer who owes nothing. The providers
        cannot take a link back; a payment made through one still arrives, marks it
        paid and waits in *Payments to Reconcile*. Kaspi's links are left to their
        polling, which alone would see such a payment, until they expire; invoices in
        the Kaspi app are cancelled at Kaspi (:meth:`_take_back`). An autopayment
        under way is left to its notification."""
        links = self.search(
            [
                ("state", "=", "waiting"),
                ("invoice_id", "!=", False),
                *WITHDRAWABLE,
                *SETTLED_INVOICE,
            ]
        )
        withdrawn = links._withdraw(
            lambda link, taken_back: (
                self.env._(
                    "Invoice %(invoice)s was settled another way: its invoice in the Kaspi "
                    "app was cancelled.",
                    invoice=link.invoice_id.name,
                )
                if taken_back
                else self.env._(
                    "Invoice %(invoice)s was settled another way: link withdrawn. A "
                    "payment through it still arrives and waits in Payments to Reconcile.",
                    invoice=link.invoice_id.name,
                )
            )
        )
        self._call_off_settled_retries()
        return withdrawn | self._withdraw_partly_paid_links()

    @api.model
    def _call_off_settled_retries(self):
        """Charges of declined autopayments queued for invoices paid, reversed or
        cancelled since are called off, so nobody reads that the card is charged
        again."""
        retries = self.search(
            [
                *QUEUED_RETRY,
                *SETTLED_INVOICE,
            ]
        )
        for retry in retries:
            retry.write(
                {
                    "state": "cancelled",
                    "last_message": self.env._(
                        "Invoice %(invoice)s was paid or cancelled before the card was "
                        "charged again.",
                        invoice=retry.invoice_id.name,
                    ),
                }
            )
        return retries

    @api.model
    def _send_reminders(self, limit=50):
        """Email again the links of invoices still unpaid whose reminder is due, by the
        account's Remind After (Days); each committed on its own, as the links are."""
        testing = getattr(threading.current_thread(), "testing", False)
        now = fields.Datetime.now()
        links = self.search(
            [
                ("state", "=", "waiting"),
                ("remind_at", "<=", now),
                *OPEN_INVOICE,
                ("autopayment", "=", False),
                "|",
                ("expires_at", "=", False),
                ("expires_at", ">", now),
            ],
            limit=limit,
            order="remind_at",
        )
        for link in links:
            if link.reminder_count >= len(link.account_id.sudo()._link_reminder_schedule()):
                link.remind_at = False  # the account's schedule was shortened or cleared
                continue
            link.reminder_count += 1
            link._email_link(reminder=True)
            if not testing:
                self.env.cr.commit()
        return links

    def _plan_reminder(self):
        """The next reminder of this link of an invoice, if the account's schedule has
        one left."""
        self.ensure_one()
        schedule = self.account_id.sudo()._link_reminder_schedule()
        if not self.invoice_id or self.autopayment or self.reminder_count >= len(schedule):
            self.remind_at = False
            return
        remind_at = fields.Datetime.add(fields.Datetime.now(), days=schedule[self.reminder_count])
        # none after the link's end (Kaspi's): it could not be paid any more
        self.remind_at = remind_at if not self.expires_at or remind_at < self.expires_at else False

    @api.model
    def _withdraw_partly_paid_links(self):
        """Links still waiting for the whole of an invoice a part of which was paid
        another way are *Withdrawn* too, so the customer cannot pay that part twice;
        where the account makes links for its invoices, a new link for the rest is
        queued (and emailed by the same job), unless the subscription's invoices are
        charged to a saved card: the CSM then has the rest paid."""
        links = self.search(
            [
                ("state", "=", "waiting"),
                ("invoice_id.payment_state", "=", "partial"),
                ("invoice_id.state", "=", "posted"),
                *WITHDRAWABLE,
            ]
        ).filtered(
            lambda link: (
                link.currency_id.compare_amounts(link.amount, link.invoice_id.amount_residual) > 0
            )
        )

        def reason(link, taken_back):
            names = {
                "invoice": link.invoice_id.name,
                "amount": tools.format_amount(self.env, link.amount, link.currency_id),
                "rest": tools.format_amount(
                    self.env, link.invoice_id.amount_residual, link.currency_id
                ),
            }
            if taken_back:
                return self.env._(
                    "Invoice %(invoice)s was partly paid another way: its invoice in the Kaspi "
                    "app for %(amount)s was cancelled, %(rest)s remain to pay.",
                    **names,
                )
            return self.env._(
                "Invoice %(invoice)s was partly paid another way: this link for "
                "%(amount)s is withdrawn, %(rest)s remain to pay. A payment through "
                "it still arrives and waits in Payments to Reconcile.",
                **names,
            )

        links = links._withdraw(reason)
        # A link again, never a charge of a saved card outside its schedule.
        self._request_for_invoices(
            links.invoice_id.filtered(
                lambda move: (
                    move.subscription_id.billing_account_id.sudo().invoice_payment_links
                    and not self._autopays(move.subscription_id)
                )
            )
        )
        return links

    def _send_for_invoice(self):
        """Make the link for what the invoice still asks, then email it to the
        customer. A link the provider refuses (or cannot be reached for) is marked
        *Error* with the reason, and the CSM gets a to-do to make one with the
        subscription's *Payment Link* button once the cause is fixed."""
        self.ensure_one()
        invoice = self.invoice_id
        if not asks_payment(invoice):
            settled = (
                self.env._(
                    "Invoice %(invoice)s was paid or cancelled before the card was charged again.",
                    invoice=invoice.name,
                )
                if self.retry_at
                else self.env._(
                    "Invoice %(invoice)s was paid or cancelled before its link was made.",
                    invoice=invoice.name,
                )
            )
            self.write({"state": "cancelled", "last_message": settled})
            return
        self.amount = invoice.amount_residual  # a part may have been paid meanwhile
        if self.retry_at and not self._autopays(self.subscription_id):
            # The client had the failed-payment email: no link to send instead.
            self.write(
                {
                    "state": "cancelled",
                    "last_message": self.env._(
                        "Not charged again: there is no saved card to charge any more, or "
                        "the account charges saved cards no more."
                    ),
                }
            )
            return
        refused = None
        try:
            with self.env.cr.savepoint():
                if self._charge_saved_card():
                    # Charged by the job, not by hand: a decline may be retried.
                    self.attempt = self.attempt or 1
                    return  # the provider's notification settles it
        except Exception as exc:  # noqa: BLE001 - one charge never blocks the queue
            if not isinstance(exc, UserError):
                _logger.exception("Autopayment %s for invoice %s failed", self.id, invoice.name)
            refused = str(exc)
        if not self.account_id.sudo().invoice_payment_links:  # queued to charge a card
            if refused:
                self._not_sent(
                    invoice,
                    refused,
                    lambda env: env._("Autopayment not made: send a payment link"),
                )
            else:  # the card was forgotten, or autopayments turned off, since
                self.write(
                    {
                        "state": "cancelled",
                        "last_message": self.env._(
                            "Not charged: there is no saved card to charge any more, and the "
                            "account sends no payment links for invoices."
                        ),
                    }
                )
            return
        try:
            with self.env.cr.savepoint():
                self.action_send()
        except Exception as exc:  # noqa: BLE001 - one link never blocks the queue
            if not isinstance(exc, UserError):  # refusals are said; anything else logged
                _logger.exception("Payment link %s for invoice %s failed", self.id, invoice.name)
            self._not_sent(invoice, str(exc), lambda env: env._("Payment link not made: send one"))
            return
        if self.payment_link:  # an invoice in the Kaspi app reaches the customer there
            self._email_link()
        if refused:
            said = self.env._(
                "The saved card was not charged (%(reason)s): this link was made instead.",
                reason=refused,
            )
            self.last_message = " ".join(filter(None, [said, self.last_message]))

    def _chase_expired(self):
        """Links that expired unpaid while their invoice still asks payment: the email
        the customer has leads nowhere now, so the CSM gets a *Payment issue* to-do to
        send another (unless the saved card is to be charged again for it)."""
        Event = self.env["cs.billing.event"]
        links = self.filtered(lambda r: r.invoice_id and asks_payment(r.invoice_id))
        retried = self.search(
            [
                ("invoice_id", "in", links.invoice_id.ids),
                *QUEUED_RETRY,
            ]
        ).invoice_id  # the saved card is charged again: nothing to send meanwhile
        for link in links.filtered(lambda r: r.invoice_id not in retried):
            invoice, partner = link.invoice_id, link.subscription_id.commercial_partner_id
            Event._schedule(
                link.subscription_id,
                lambda env, partner=partner: env._(
                    "Payment link expired: %(customer)s", customer=partner.name
                ),
                lambda env, invoice=invoice, link=link: (
                    env._(
                        "The invoice %(invoice)s (%(amount)s) sent to the Kaspi app of "
                        "%(phone)s expired unpaid: it cannot be paid there any more. Call the "
                        "customer, then press Payment Link on the subscription to send it again.",
                        invoice=invoice.name,
                        amount=tools.format_amount(env, invoice.amount_residual, link.currency_id),
                        phone=link.phone,
                    )
                    if link.phone
                    else env._(
                        "The payment link of invoice %(invoice)s (%(amount)s) expired unpaid. "
                        "Press Payment Link on the subscription to send the customer a new "
                        "one, or call them.",
                        invoice=invoice.name,
                        amount=tools.format_amount(env, invoice.amount_residual, link.currency_id),
                    )
                ),
                # done by itself once a payment settles the subscription
                activity_type=Event._payment_issue_type(),
            )

    def _not_sent(self, invoice, reason, summary):
        """Neither charged nor sent: *Error* with the reason, and the CSM's to-do."""
        self.write({"state": "error", "last_message": reason})
        self.env["cs.billing.event"]._schedule(
            self.subscription_id,
            summary,
            lambda env: env._(
                "Invoice %(invoice)s: %(reason)s Fix the cause, then press Payment Link "
                "on the subscription.",
                invoice=invoice.name,
                reason=reason,
            ),
        )

    @api.model
    def _autopays(self, subscription):
        """Whether ``subscription``'s invoices are charged to a card its customer saved
        (each provider that can says so in its own file)."""
        return False

    def _charge_saved_card(self):
        """Charge this request's amount to the customer's saved card; False, and nothing
        done, when its provider or subscription does not charge one (a link is then
        sent)."""
        self.ensure_one()
        return False

    def _charged(self, external_id):
        """This request charged to the subscription's saved card under the provider's
        ``external_id``: it waits for the provider's notification, and is asked about
        an hour later if none comes (``_cron_ask_providers``)."""
        subscription = self.subscription_id.sudo()
        self.write(
            {
                "external_id": external_id,
                "autopayment": True,
                "card_ref": subscription.cs_payment_method_ref,
                "state": "waiting",
                "next_poll_at": fields.Datetime.now() + self.ASK_AFTER,
                "last_message": self.env._(
                    "Charged to %(method)s: %(provider)s's notification settles it.",
                    method=subscription.cs_payment_method_title
                    or subscription.cs_payment_method_ref,
                    provider=self._provider_name(),
                ),
            }
        )

    def _email_link(self, reminder=False):
        """Send the link by email as *Send by Email* does, from the customer's CSM
        (else the account's responsible) when that user may see the link; a
        ``reminder`` says the invoice is still unpaid. The next reminder is planned
        once the email is posted (:meth:`_message_post_after_hook`)."""
        self.ensure_one()
        customer = self.subscription_id.partner_id
        self.remind_at = False
        if not customer.email:
            self.last_message = self.env._(
                "Not emailed: %(customer)s has no email address.", customer=customer.name
            )
            return
        sender = self.subscription_id.commercial_partner_id.csm_id or self.account_id.user_id
        if not sender or not self.with_user(sender).has_access("read"):
            sender = self.env.user
        if self.phone:  # an invoice in the Kaspi app: only reminded, with no link
            template = "customer_success.mail_template_kaspi_app_reminder"
        elif reminder:
            template = "customer_success.mail_template_payment_link_reminder"
        else:
            template = "customer_success.mail_template_payment_link"
        context = self.with_user(sender)._composer_context(template)
        composer = self.env["mail.compose.message"].with_user(sender).with_context(context)
        try:
            with self.env.cr.savepoint():
                composer.create({}).action_send_mail()
        except Exception as exc:  # noqa: BLE001 - the link is made: it stays, said not emailed
            _logger.warning("Payment link %s not emailed: %s", self.id, exc)
            # remind_at stays cleared: no reminder of an email the customer never got
            self.last_message = self.env._("Not emailed: %(reason)s", reason=str(exc))

    def _message_post_after_hook(self, message, msg_values):
        """A link emailed to the customer, by the job or by hand with *Send by Email*:
        its next reminder is planned (the account's Remind After (Days))."""
        result = super()._message_post_after_hook(message, msg_values)
        sent = self.payment_link or self.phone  # the link, or the phone of the Kaspi app
        if (
            message.message_type == "comment"
            and self.state == "waiting"
            and sent
            and tools.html_escape(sent) in (message.body or "")
        ):
            self._plan_reminder()
        return result

    def _link_description(self):
        """What the customer reads on the provider's payment page."""
        self.ensure_one()
        subscription = self.subscription_id
        return self.env._(
            "%(subscription)s: %(plan)s",
            subscription=subscription.code or subscription.name,
            plan=subscription.template_id.name,
        )

    def _check_link_currency(self, currency):
        """Refuse a link whose amount is not in ``currency``, the only one the provider
        account takes: a payment link never converts an amount."""
        self.ensure_one()
        if currency and self.currency_id != currency:
            raise UserError(
                self.env._(
                    "%(subscription)s is billed in %(currency)s, the %(provider)s account "
                    "%(account)s takes %(accepted)s: a payment link cannot carry this amount.",
                    subscription=self.subscription_id.display_name,
                    currency=self.currency_id.name,
                    provider=self._provider_name(),
                    account=self.account_id.name,
                    accepted=currency.name,
                )
            )

    def _send_kaspi(self):
        for request in self:
            request._check_link_currency(self.env.ref("base.KZT"))  # Kaspi pays in tenge
            account = request.account_id.sudo()
            phone = request._kaspi_phone()
            if phone:
                data = request._client().create_remote(
                    amount=request.amount,
                    phone=phone,
                    comment=request._link_description(),
                    organization_bin=account.provider_account_ref,
                    device_token=account.kaspi_device_token,
                )
                shown = kaspi_adapter.phone_display(phone)
                request.write(
                    {
                        "external_id": str(data.get("QrPaymentId") or ""),
                        "phone": shown,
                        "state": "waiting",
                        "poll_interval": REMOTE_POLLS[0][1],
                        "next_poll_at": fields.Datetime.add(
                            fields.Datetime.now(), seconds=REMOTE_POLLS[0][1]
                        ),
                        "last_message": self.env._(
                            "Invoice sent to the Kaspi app of %(phone)s.", phone=shown
                        ),
                    }
                )
                # Not emailed (the customer is told in the app), but reminded by email.
                request._plan_reminder()
                continue
            data = request._client().create_link(
                amount=request.amount,
                # one operation per link: a subscription has a link per renewal
                external_id="%s-%d"
                % (request.subscription_id.code or request.subscription_id.id, request.id),
                organization_bin=account.provider_account_ref,
            )
            expires = data.get("ExpireDate")  # Kazakhstan's time unless it has an offset
            request.write(
                {
                    "external_id": str(data.get("QrPaymentId") or ""),
                    "payment_link": data.get("PaymentLink") or data.get("QrToken"),
                    "state": "waiting",
                    "poll_interval": int(
                        (data.get("PaymentBehaviorOptions") or {}).get("StatusPollingInterval") or 5
                    ),
                    "next_poll_at": fields.Datetime.now(),
                    "expires_at": kaspi_adapter.to_utc(expires) or False,
                    "last_message": self.env._(
                        "Made at %(user)s's request instead of an invoice to the Kaspi app.",
                        user=self.env.user.name,
                    )
                    if self.env.context.get("cs_kaspi_link")
                    else account.kaspi_remote_invoices
                    and self.env._(
                        "%(customer)s has no Kazakh mobile number: a payment link was made "
                        "instead of an invoice to the Kaspi app.",
                        customer=request.subscription_id.partner_id.display_name,
                    ),
                }
            )

    def _kaspi_phone(self):
        """The Kazakh mobile number of the subscription's customer (its contact first,
        then the company) the invoice goes to in the Kaspi app, when the account sends
        them there; "" for a link."""
        self.ensure_one()
        if (
            self.env.context.get("cs_kaspi_link")
            or not self.account_id.sudo().kaspi_remote_invoices
        ):
            return ""
        contact = self.subscription_id.partner_id
        company = self.subscription_id.commercial_partner_id
        return kaspi_adapter.kz_mobile(contact.mobile, contact.phone, company.mobile, company.phone)

    def _take_back(self):
        """Take this waiting request back at its provider before it is withdrawn: True
        once it is (an invoice in the Kaspi app, cancelled), None when the provider
        cannot take it back (a link: a payment through it still arrives).

        :raises Exception: the provider refused or could not be reached
        """
        self.ensure_one()
        if self.provider != "kaspi" or not self.phone:
            return None
        account = self.account_id.sudo()
        self._client().cancel_remote(
            self.external_id, account.provider_account_ref, account.kaspi_device_token
        )
        return True

    @api.model
    def _take_back_soon(self, invoices):
        """``invoices`` were paid: their invoices still waiting in the Kaspi app are
        cancelled by the payment links job (:meth:`_withdraw_settled_links`), woken now
        rather than at its next hourly run, so the customer cannot pay twice."""
        if not invoices or not self.search_count(
            [("invoice_id", "in", invoices.ids), ("state", "=", "waiting"), ("phone", "!=", False)],
            limit=1,
        ):
            return
        job = self.env.ref(
            "customer_success.ir_cron_invoice_payment_links", raise_if_not_found=False
        )
        if job:
            job._trigger()

    def _withdraw(self, reason):
        """Withdraw these waiting requests with ``reason(taken_back)``, the words for a
        request taken back at the provider or not; those the provider would not take
        back (or could not be asked) stay waiting, said why, for the next run.
        Returns the requests withdrawn."""
        withdrawn = self.browse()
        for link in self:
            try:
                taken_back = link._take_back()
            except Exception as exc:  # noqa: BLE001 - asked again at the next run
                link.last_message = self.env._(
                    "Not cancelled at Kaspi yet (%(reason)s): tried again within an hour.",
                    reason=str(exc)[:200],
                )
                continue
            link.write({"state": "withdrawn", "last_message": reason(link, taken_back)})
            withdrawn |= link
        return withdrawn

    # A payment still waiting this long after it was made is asked of its provider
    # (YooKassa, Robokassa), whose notification comes within seconds when it comes;
    # then every hour on its first day, and every six hours after (a link the
    # customer has yet to open) ...
    ASK_AFTER = timedelta(hours=1)
    ASK_LATER = timedelta(hours=6)
    # ... for a month at most: a link still pending then is left to its notification.
    ASK_FOR = timedelta(days=30)

    @api.model
    @in_office_language
    def _cron_ask_providers(self, limit=100):
        """Ask YooKassa and Robokassa about the payments still waiting an hour after
        they were made.

        Their notification comes within seconds; one that did not come (notifications
        switched off or sent elsewhere in the provider's cabinet, the address refused)
        would leave a customer who paid chased as if they owed. A payment settled
        meanwhile goes into the inbox as its notification would, under the same key:
        the invoice is paid (or the failure chased), and a notification coming later is
        a duplicate. The account's responsible is told (``_sync_missed_alert``).
        """
        due = [
            ("state", "=", "waiting"),
            ("next_poll_at", "<=", fields.Datetime.now()),
            ("account_id.provider", "in", ASKED_PROVIDERS),
            ("external_id", "!=", False),
        ]
        requests_ = self.search(due, limit=limit, order="next_poll_at")
        missed = self.browse()
        for request in requests_:
            if getattr(request, "_ask_%s" % request.provider)():
                missed |= request
        for account in missed.account_id:
            account._sync_missed_alert()
        remaining = self.search_count(due)
        self.env["ir.cron"]._notify_progress(done=len(requests_), remaining=remaining)

    def _ask_provider(self, ask):
        """Ask the provider about this waiting payment with ``ask()``, which returns
        the inbox's ``(event, created)`` of its outcome once it is final (and False
        third when the provider notifies no such outcome: no notification was missed),
        and None while it is pending; and plan the next question (``ASK_*``). True when
        the outcome was stored here first: its notification had not come."""
        self.ensure_one()
        now = fields.Datetime.now()
        made = max(self.create_date, self.retry_at or self.create_date)  # a retry: when due
        next_ask = now + (self.ASK_AFTER if now - made < timedelta(days=1) else self.ASK_LATER)
        provider = self._provider_name()
        try:
            stored = ask()
        except Exception as exc:  # noqa: BLE001 - unreachable or refusing: next time
            self.write(
                {
                    "last_message": self.env._(
                        "%(provider)s was not reached about this payment: %(reason)s",
                        provider=provider,
                        reason=str(exc)[:200],
                    ),
                    "next_poll_at": next_ask,
                }
            )
            return False
        if not stored:  # still pending: the customer has yet to pay
            if now - made < self.ASK_FOR:
                self.next_poll_at = next_ask
            else:
                self.write(
                    {
                        "next_poll_at": False,
                        "last_message": self.env._(
                            "Still pending at %(provider)s a month after it was made: not "
                            "asked any more, its notification settles it.",
                            provider=provider,
                        ),
                    }
                )
            return False
        event, created, *notified = stored
        missed = created and (notified or [True])[0]
        vals = {"next_poll_at": False, "event_id": event.id}
        if missed:  # else the notification came and waits in the inbox
            vals["notification_missed_at"] = now
        self.write(vals)
        return missed

    def _provider_name(self):
        return self.account_id._provider_name(self.env)

    @api.model
    @in_office_language
    def _cron_poll_kaspi(self, limit=100):
        """Poll waiting Kaspi payments; a paid one becomes an inbox event."""
        due = [
            ("state", "=", "waiting"),
            ("next_poll_at", "<=", fields.Datetime.now()),
            ("account_id.provider", "=", "kaspi"),
        ]
        requests_ = self.search(due, limit=limit, order="next_poll_at")
        for request in requests_:
            request._poll()
        remaining = self.search_count(due)
        self.env["ir.cron"]._notify_progress(done=len(requests_), remaining=remaining)

    def _poll_every(self, now):
        """Seconds until the next poll: Kaspi's polling interval for a link; for an
        invoice in the Kaspi app, longer as it waits (:data:`REMOTE_POLLS`)."""
        if not self.phone:
            return self.poll_interval or 5
        age = (now - self.create_date).total_seconds()
        return next(every for until, every in REMOTE_POLLS if until is None or age < until)

    def _remote_abandoned(self, now):
        """An invoice in the Kaspi app unpaid for :data:`REMOTE_DAYS` days is taken back
        at Kaspi (True once it is, and it then expires as a link does): nobody polls
        for ever an invoice the customer left."""
        if not self.phone or (now - self.create_date).days < REMOTE_DAYS:
            return False
        try:
            return bool(self._take_back())
        except Exception as exc:  # noqa: BLE001 - asked again at the next poll
            _logger.warning("Kaspi remote payment %s not cancelled: %s", self.external_id, exc)
            return False

    def _poll(self):
        self.ensure_one()
        now = fields.Datetime.now()
        try:
            data = self._client().status(self.external_id)
        except Exception as exc:  # noqa: BLE001 - network or Kaspi error: try again later
            self.write(
                {
                    "last_message": str(exc)[:200],
                    "next_poll_at": fields.Datetime.add(now, seconds=60),
                }
            )
            return
        status = data.get("Status") or ""
        final = kaspi_adapter.final_status(status)
        if not final:
            expired = (self.expires_at and self.expires_at < now) or self._remote_abandoned(now)
            self.write(
                {
                    "last_message": status,
                    "state": "expired" if expired else "waiting",
                    "next_poll_at": fields.Datetime.add(now, seconds=self._poll_every(now)),
                }
            )
            if expired:
                self._chase_expired()
            return
        if final == "expired":
            self._chase_expired()
        vals = {"state": final, "last_message": status}
        if final == "processed":
            event, _created = (
                self.env["cs.billing.event"]
                .sudo()
                ._store(
                    self.account_id,
                    BillingEvent(
                        external_id="qr:%s" % self.external_id,
                        event_type="qr.processed",
                        created=int(now.timestamp()),
                        payload={
                            "request_id": self.id,
                            "qr_payment_id": self.external_id,
                            "sum": self.amount,
                            "status": status,
                        },
                    ),
                )
            )
            vals["event_id"] = event.id
        self.write(vals)
