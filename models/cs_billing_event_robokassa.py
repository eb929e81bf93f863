# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields
from odoo import models
from odoo.exceptions import UserError
from odoo.tools import escape_psql

from ..services.providers import robokassa_adapter
from ..services.providers.common import PayloadError
from ..services.providers.common import WebhookError
from ..services.providers.common import decimal_amount
from .cs_billing_event import asks_payment


class RobokassaPending(Exception):
    """Robokassa has not settled the invoice yet: the event is tried again later."""


class CsBillingEventRobokassa(models.Model):
    """Robokassa's effects: a signed ResultURL notification of a payment, acted on
    once Robokassa's OpStateExt interface says the invoice is paid."""

    _inherit = "cs.billing.event"

    def _apply_robokassa(self):
        self.ensure_one()
        data = self._data()
        if self.event_type not in ("payment", "recurring.declined"):
            return "ignored", self.env._("Event type not used by Customer Success.")
        account = self.account_id.sudo()
        inv_id = data.get("InvId")
        told = robokassa_adapter.fetch_state(
            account.robokassa_api_url,
            account.provider_account_ref,
            account.webhook_secret,
            account.robokassa_hash or "md5",
            inv_id,
        )
        code = told["code"]
        label = self._robokassa_state_label(code)
        if self.event_type == "recurring.declined":
            return self._robokassa_declined(data, code, label)
        if code in robokassa_adapter.FINAL_UNPAID:
            return "ignored", self.env._(
                "Robokassa says invoice %(invoice)s is %(state)s: no payment recorded.",
                invoice=inv_id,
                state=label,
            )
        if code != robokassa_adapter.PAID:
            raise RobokassaPending(
                self.env._(
                    "Robokassa says invoice %(invoice)s is %(state)s (state %(code)s); "
                    "it is checked again later.",
                    invoice=inv_id,
                    state=label,
                    code=code,
                )
            )
        subscription = self._robokassa_subscription(data)
        if not subscription:
            return "unmatched", self.env._(
                "No subscription matches Robokassa invoice %(invoice)s "
                "(subscription %(subscription)s, Odoo invoice %(move)s, email %(email)s). "
                "Link one on this event, then reprocess.",
                invoice=inv_id,
                subscription=data.get(robokassa_adapter.SHP_SUBSCRIPTION) or "-",
                move=data.get(robokassa_adapter.SHP_INVOICE) or "-",
                email=data.get("EMail") or data.get("Email") or "-",
            )
        subscription = self._bind(subscription)
        # The signed notification's sum: the invoice's amount, before Robokassa's fee.
        amount = robokassa_adapter.amount(data)
        currency = account.currency_id or subscription.currency_id
        # Robokassa keeps its fee: the bank receives the sum less the fee, which the
        # accountant books when reconciling the bank statement; the payment tells it.
        try:
            fee = decimal_amount(data.get("Fee"), "Fee", default=0.0)
        except PayloadError:
            fee = 0.0
        reference = "Robokassa %s" % inv_id
        if fee:
            reference += self.env._(", fee %(fee)s", fee=self._money(fee, currency))
        state, result = self._effect_payment_succeeded(
            subscription, amount, currency, reference, subscription.recurring_next_date
        )
        if fee:
            result += "; " + self.env._(
                "Robokassa's fee %(fee)s %(currency)s: %(net)s %(currency)s reach the bank",
                fee=self._money(fee, currency),
                net=self._money(amount - fee, currency),
                currency=currency.name,
            )
        request = self._robokassa_request(data)
        if request:
            request.write({"state": "processed", "external_id": inv_id, "event_id": self.id})
            if account.autopayments and not request.autopayment:
                self._robokassa_save_card(subscription, inv_id, told)
        return state, result

    def _robokassa_save_card(self, subscription, inv_id, state):
        """A link of an account that charges saved cards was paid by card: that payment
        is the "mother" one whose card Robokassa charges again for the next invoices."""
        if state.get("method") != "BankCard" or not inv_id:
            return  # only a bank card can be charged again
        subscription._cs_save_card(
            str(inv_id),
            self.env._("Robokassa card %(card)s", card=state.get("account") or "#%s" % inv_id),
            lambda name: self.env._(
                "Robokassa: the customer's %(method)s is charged for the next invoices "
                "(payment %(invoice)s).",
                method=name,
                invoice=inv_id,
            ),
        )

    def _robokassa_declined(self, data, code, label):
        """A charge of a saved card that Robokassa did not make (OpStateExt says so:
        Robokassa notifies no declines): a failed payment, charged again by the
        account's schedule. Robokassa tells no reason, so every decline is retried."""
        if code == robokassa_adapter.PAID:
            return "ignored", self.env._(
                "Robokassa says invoice %(invoice)s was paid after all: its payment settles it.",
                invoice=data.get("InvId"),
            )
        if code not in robokassa_adapter.FINAL_UNPAID:
            raise RobokassaPending(
                self.env._(
                    "Robokassa says invoice %(invoice)s is %(state)s (state %(code)s); "
                    "it is checked again later.",
                    invoice=data.get("InvId"),
                    state=label,
                    code=code,
                )
            )
        link = self._robokassa_request(data)
        subscription = self._bind(link.subscription_id) if link else self.subscription_id
        if not subscription:
            return "unmatched", self.env._("No subscription matches this declined charge.")
        if link.invoice_id and not asks_payment(link.invoice_id):
            link.write({"state": "cancelled", "event_id": self.id})
            return "processed", self.env._(
                "The declined charge's invoice %(invoice)s was settled another way: nothing "
                "to chase.",
                invoice=link.invoice_id.name,
            )

        def reason(env):
            return env._("Robokassa declined the charge of the saved card (%(state)s)",
                         state=self.with_env(env)._robokassa_state_label(code))  # fmt: skip

        link.write({"state": "cancelled", "last_message": reason(self.env), "event_id": self.id})
        retry = self._autopay_retry(link, True, reason)
        retry_day = retry and self._company_day(retry.retry_at)
        advice = self._with_retry(
            lambda env: env._("Ask the customer to check the card, or to pay another way."),
            retry,
            retry_day,
            link.attempt,
            forgotten=not retry and self._forget_declined_card(link, reason),
        )
        currency = self.account_id.sudo().currency_id or subscription.currency_id
        amount = robokassa_adapter.amount(data)
        # The client never saw that charge: with a link in the email, they pay at once.
        pay_url = self._failure_link(subscription, amount, currency, invoice=link.invoice_id)
        return self._effect_payment_failed(
            subscription,
            amount,
            currency,
            reason,
            next_attempt=retry_day,
            advice=advice,
            pay_url=pay_url,
        )

    def _robokassa_state_label(self, code):
        """What an OpStateExt state code means, in the user's language."""
        labels = {
            5: self.env._("initiated, not paid"),
            10: self.env._("cancelled, not paid"),
            20: self.env._("on hold"),
            50: self.env._("paid, being credited to the shop"),
            60: self.env._("refused after payment, money returned to the buyer"),
            80: self.env._("suspended"),
            100: self.env._("paid"),
        }
        return labels.get(code) or self.env._("in state %(code)s", code=code)

    def _robokassa_request(self, data):
        """The payment link of ours (``Shp_request``) this payment came through."""
        ref = str(data.get(robokassa_adapter.SHP_REQUEST) or "")
        if not ref.isdigit() or int(ref) >= 2**31:
            return self.env["cs.billing.payment.request"]
        return self.env["cs.billing.payment.request"].search(
            [("id", "=", int(ref)), ("account_id", "=", self.account_id.id)]
        )

    def _robokassa_subscription(self, data):
        """The subscription a payment is for, the first found of:

        - the one linked by hand on the event;
        - the one of our payment link (``Shp_request``);
        - the one of the Odoo invoice (``Shp_invoice``);
        - our subscription code or provider reference (``Shp_subscription``);
        - the one running subscription of this account whose customer has the
          payer's email.
        """
        if self.subscription_id:
            return self.subscription_id
        Sub = self.env["sale.subscription"]
        request = self._robokassa_request(data)
        if request:
            return request.subscription_id
        number = data.get(robokassa_adapter.SHP_INVOICE)
        if number:
            invoice = self.env["account.move"].search(
                [
                    ("name", "=", number),
                    ("move_type", "=", "out_invoice"),
                    ("company_id", "=", self.account_id.company_id.id),
                    ("subscription_id", "!=", False),
                ],
                limit=1,
            )
            if invoice:
                return invoice.subscription_id
        found = self._subscription_by_ref(
            self.account_id, data.get(robokassa_adapter.SHP_SUBSCRIPTION)
        )
        if found:
            return found
        email = (data.get("EMail") or data.get("Email") or "").strip()
        if email:
            return self._sole_subscription(
                [("partner_id.commercial_partner_id.email", "=ilike", escape_psql(email))]
            )
        return Sub


class CsBillingPaymentRequestRobokassa(models.Model):
    """A Robokassa payment link: a signed address of Robokassa's payment page, made
    here (no call to Robokassa); the payment arrives as a ResultURL notification."""

    _inherit = "cs.billing.payment.request"

    def _send_robokassa(self):
        for request in self:
            account = request.account_id.sudo()
            subscription = request.subscription_id
            # Robokassa takes OutSum in the shop's currency: no conversion here.
            request._check_link_currency(account.currency_id)
            # The open invoice of that amount, named in the link so that the payment
            # pays it; read as superuser: a CSM need not have invoicing rights.
            invoice = request.sudo().invoice_id or subscription.sudo()._cs_open_invoice(
                request.amount, request.currency_id
            )
            description = request._link_description()
            receipt = request._robokassa_receipt(description)
            # Numbered here when the account says so: then it can be asked about.
            inv_id = (
                account.robokassa_invoice_start and account.robokassa_invoice_start + request.id
            )
            link = robokassa_adapter.payment_url(
                account.robokassa_api_url,
                account.provider_account_ref,
                account.api_key,
                account.robokassa_hash or "md5",
                request.amount,
                description,
                request._robokassa_shp(invoice),
                email=subscription.commercial_partner_id.email,
                receipt=receipt,
                inv_id=inv_id,
                # a card paid with may then be charged again (autopayments)
                recurring=account.autopayments,
            )
            vals = {"payment_link": link, "state": "waiting"}
            if inv_id:
                vals["external_id"] = str(inv_id)
                vals["next_poll_at"] = fields.Datetime.now() + self.ASK_AFTER
            request.write(vals)

    def _robokassa_receipt(self, description):
        """The receipt of this request's amount when the shop fiscalises through
        Robokassa (the account's VAT rate), else None."""
        account = self.account_id.sudo()
        if not account.receipt_vat_code:
            return None
        try:
            return robokassa_adapter.receipt(
                description, self.amount, account.receipt_vat_code, account.receipt_tax_system
            )
        except PayloadError as exc:
            raise UserError(
                self.env._(
                    "Robokassa cannot take the receipt settings of %(account)s: %(reason)s",
                    account=account.name,
                    reason=exc,
                )
            ) from exc

    def _autopays(self, subscription):
        account = subscription.billing_account_id.sudo()
        if account.provider != "robokassa":
            return super()._autopays(subscription)
        return (
            account.autopayments
            and bool(account.robokassa_invoice_start)
            and bool(subscription.sudo().cs_payment_method_ref)
        )

    def _charge_saved_card(self):
        """Charge the card of the subscription's "mother" payment again
        (``Merchant/Recurring``) under this request's invoice number; Robokassa's
        ResultURL settles it when paid, OpStateExt tells a decline (``_ask_robokassa``)."""
        self.ensure_one()
        if self.account_id.provider != "robokassa":
            return super()._charge_saved_card()
        subscription = self.subscription_id.sudo()
        if not self._autopays(subscription):
            return False
        account = self.account_id.sudo()
        self._check_link_currency(account.currency_id)
        inv_id = account.robokassa_invoice_start + self.id
        description = self._link_description()
        try:
            robokassa_adapter.charge_recurring(
                account.robokassa_api_url,
                account.provider_account_ref,
                account.api_key,
                account.robokassa_hash or "md5",
                inv_id,
                subscription.cs_payment_method_ref,
                self.amount,
                description,
                self._robokassa_shp(self.sudo().invoice_id),
                receipt=self._robokassa_receipt(description),
            )
        except (robokassa_adapter.ApiError, WebhookError) as exc:
            raise UserError(str(exc)) from exc
        self._charged(str(inv_id))
        return True

    def _robokassa_shp(self, invoice):
        """Our parameters of this link, which Robokassa returns signed: the link, the
        subscription and the Odoo ``invoice`` it pays."""
        return {
            robokassa_adapter.SHP_REQUEST: self.id,
            robokassa_adapter.SHP_SUBSCRIPTION: self.subscription_id.code,
            robokassa_adapter.SHP_INVOICE: invoice.name,
        }

    def _ask_robokassa(self):
        """The state of this link's invoice as Robokassa's OpStateExt gives it now: paid,
        it goes into the inbox as its ResultURL notification would (applying it asks
        OpStateExt again); True when that notification had not come (see
        ``_cron_ask_providers``)."""
        account = self.account_id.sudo()
        Event = self.env["cs.billing.event"].sudo()

        def ask():
            try:
                state = robokassa_adapter.fetch_state(
                    account.robokassa_api_url,
                    account.provider_account_ref,
                    account.webhook_secret,
                    account.robokassa_hash or "md5",
                    self.external_id,
                )
            except robokassa_adapter.InvoiceNotFound:
                return None  # the customer has not opened the payment page yet
            params = {
                "OutSum": "%.2f" % self.amount,
                "InvId": self.external_id,
                **self._robokassa_shp(self.invoice_id),
            }
            event = robokassa_adapter.to_event({k: str(v) for k, v in params.items() if v})
            if self.autopayment and state["code"] in robokassa_adapter.FINAL_UNPAID:
                # A charge of a saved card declined: Robokassa notifies no declines, so
                # this is how it is known, and no notification was missed.
                event.external_id = "declined:%s" % event.external_id
                event.event_type = "recurring.declined"
                stored, _created = Event._store(self.account_id, event)
                return stored, _created, False
            if state["code"] != robokassa_adapter.PAID:
                self.last_message = self.env._(
                    "Robokassa says: %(state)s.", state=Event._robokassa_state_label(state["code"])
                )
                return None
            return Event._store(self.account_id, event)

        if not self._ask_provider(ask):
            return False
        self.message_post(
            body=self.env._(
                "Robokassa's notification of this payment did not come: Robokassa says it was "
                "paid, and that is applied."
            )
        )
        return True


class CsBillingAccountRobokassa(models.Model):
    """What to check when Robokassa's notifications do not come."""

    _inherit = "cs.billing.account"

    def _missed_check(self, env):
        if self.provider != "robokassa":
            return super()._missed_check(env)
        return env._(
            "In Robokassa's cabinet (the shop's Technical settings), check that Result URL is "
            "this account's Webhook URL, with the POST method, that Password #2 and the "
            "checksum algorithm are those stored here; and that the account's allow-list, if "
            "it has one, lets Robokassa's addresses in."
        )
