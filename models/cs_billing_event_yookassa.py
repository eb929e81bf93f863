# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

from ..services.providers import yookassa_adapter
from ..services.providers.common import AuthenticityError
from ..services.providers.common import PayloadError

# What the API status of the re-fetched object means, whatever the notification said.
_PAYMENT_EFFECT = {"succeeded": "payment.succeeded", "canceled": "payment.canceled"}


# Declines after which the saved card takes no more autopayments.
_CARD_GONE = {"permission_revoked", "card_expired"}

# Declines of a saved card that a later charge of the same card can pass: a retry
# is scheduled for them (the account's Retry Declined Charges After); the others need
# the customer (another card, the bank's consent) or are final.
_RETRIED = {
    "insufficient_funds",
    "issuer_unavailable",
    "payment_method_limit_exceeded",
    "general_decline",
    "call_issuer",
    "internal_timeout",
    "rejected_by_timeout",
}

# Reasons whose remedy is a new payment link.
_LINK_ADVICE = {
    "deal_expired",
    "expired_on_confirmation",
    "expired_on_capture",
    "loan_declined_by_payer",
    "loan_application_expired",
    "permission_revoked",
}


def _decline(code, party):
    """Why YooKassa cancelled a payment and what the CSM can do about it, each a
    function of the reader's environment (its language).

    Source: the reasons and parties of ``cancellation_details`` in YooKassa's
    "Declined payments" guide and its Python SDK (``CancellationDetailsReasonCode``).
    A code not listed there is shown as sent.
    """

    def reason(env):
        labels = {
            "3d_secure_failed": env._("3-D Secure not passed"),
            "call_issuer": env._("declined by the issuer without a reason"),
            "canceled_by_merchant": env._("cancelled through your shop's API"),
            "card_expired": env._("the card has expired"),
            "country_forbidden": env._("cards of this country are not accepted"),
            "deal_expired": env._("the Safe Deal expired"),
            "expired_on_confirmation": env._("not confirmed by the customer in time"),
            "expired_on_capture": env._("not captured in time"),
            "fraud_suspected": env._("suspected fraud"),
            "general_decline": env._("declined without details"),
            "identification_required": env._("YooMoney wallet limits exceeded"),
            "insufficient_funds": env._("insufficient funds"),
            "internal_timeout": env._("technical failure at YooKassa"),
            "invalid_card_number": env._("wrong card number"),
            "invalid_csc": env._("wrong card security code"),
            "issuer_unavailable": env._("the issuer is unavailable"),
            "loan_declined": env._("loan or instalments declined by the bank"),
            "loan_declined_by_payer": env._("loan or instalments declined by the customer"),
            "loan_application_expired": env._("the loan application expired"),
            "payment_method_limit_exceeded": env._("payment limit reached"),
            "payment_method_restricted": env._("payment method blocked"),
            "permission_revoked": env._("autopayments revoked by the customer"),
            "unsupported_mobile_operator": env._("mobile operator not supported"),
            "rejected_by_timeout": env._("rejected on timeout"),
            "unknown": env._("unknown reason"),
        }
        parties = {
            "merchant": env._("cancelled by your shop"),
            "yoo_money": env._("YooKassa's own decision"),
            "payment_network": env._("declined by the bank or payment system"),
        }
        label = labels.get(code, code)
        if isinstance(party, str) and party in parties:
            return env._("YooKassa: %(reason)s — %(party)s", reason=label, party=parties[party])
        return env._("YooKassa: %(r)s", r=label)

    def advice(env):
        other = env._("Ask the customer to pay with another card or payment method.")
        link = env._("Send the customer a new payment link.")
        later = env._(
            "Try the payment again later, or ask the customer for another payment method."
        )
        again = env._("A technical failure: try the payment again.")
        return {
            "3d_secure_failed": env._(
                "Ask the customer to pay again and confirm the payment with their bank, "
                "or to use another card."
            ),
            "call_issuer": env._("Ask the customer to call their bank or to use another card."),
            "general_decline": env._("Ask the customer to call their bank or to use another card."),
            "canceled_by_merchant": env._(
                "Check with your billing team why the payment was cancelled."
            ),
            "card_expired": other,
            "country_forbidden": other,
            "fraud_suspected": other,
            "payment_method_restricted": other,
            "unsupported_mobile_operator": other,
            "loan_declined": other,
            "deal_expired": link,
            "expired_on_confirmation": link,
            "expired_on_capture": link,
            "loan_declined_by_payer": link,
            "loan_application_expired": link,
            "permission_revoked": env._(
                "Send the customer a new payment link: paying it saves the card for "
                "autopayments again."
            ),
            "identification_required": env._(
                "Ask the customer to identify their YooMoney wallet or to pay another way."
            ),
            "insufficient_funds": env._(
                "Ask the customer to top up the balance or to pay with another card."
            ),
            "invalid_card_number": env._(
                "Ask the customer to pay again with the correct card details."
            ),
            "invalid_csc": env._("Ask the customer to pay again with the correct card details."),
            "issuer_unavailable": later,
            "payment_method_limit_exceeded": later,
            "internal_timeout": again,
            "rejected_by_timeout": again,
        }.get(code) or env._("Check the payment method with the customer.")

    return reason, advice


class CsBillingEventYookassa(models.Model):
    """YooKassa's effects: the API's copy of the object decides, never the notification."""

    _inherit = "cs.billing.event"

    def _apply_yookassa(self):
        self.ensure_one()
        notified = self._data().get("object") or {}
        if self.event_type not in yookassa_adapter.HANDLED:
            return "ignored", self.env._("Event type not used by Customer Success.")
        account = self.account_id.sudo()
        obj = yookassa_adapter.fetch(
            self.event_type, notified.get("id"), account.provider_account_ref, account.api_key
        )
        if self.event_type.startswith("payment."):
            effect = _PAYMENT_EFFECT.get(obj.get("status"))
            if not effect:
                return "ignored", self.env._(
                    "The API says the payment is %(status)s: nothing to do yet.",
                    status=obj.get("status") or "-",
                )
        else:
            if obj.get("status") != "succeeded":
                return "ignored", self.env._(
                    "The API says the refund is %(status)s.", status=obj.get("status") or "-"
                )
            effect = "refund.succeeded"
        subscription = self._yookassa_subscription(obj)
        if not subscription:
            return "unmatched", self.env._(
                "No subscription matches the payment metadata (%(ref)s). "
                "Link one on this event, then reprocess.",
                ref=yookassa_adapter.subscription_ref(obj) or "-",
            )
        subscription = self._bind(subscription)
        amount, code = yookassa_adapter.amount_of(obj)
        currency = self._find_currency(code, subscription.currency_id)
        if effect == "payment.succeeded":
            method = obj.get("payment_method")
            if isinstance(method, dict) and method.get("saved") and method.get("id"):
                subscription.external_customer_ref = (
                    subscription.external_customer_ref or method["id"]
                )
                self._yookassa_save_method(subscription, method)
            outcome = self._effect_payment_succeeded(
                subscription, amount, currency, obj.get("id"), subscription.recurring_next_date
            )
            self._yookassa_link_paid(obj.get("id"))
            return outcome
        if effect == "payment.canceled":
            details = obj.get("cancellation_details")
            details = details if isinstance(details, dict) else {}
            code = str(details.get("reason") or "unknown")[:64]
            reason, advice = _decline(code, details.get("party"))
            link = self._yookassa_link(obj.get("id"))
            if link.state == "withdrawn":
                # Its invoice was settled another way: nobody owes this payment.
                link.write({"last_message": reason(self.env), "event_id": self.id})
                return "processed", self.env._(
                    "The payment of a withdrawn link was not made: nothing to chase."
                )
            link = link.filtered(lambda r: r.state == "waiting")
            if link and code == "expired_on_confirmation":
                # The customer never opened our link: no failed payment to chase.
                link.write(
                    {"state": "expired", "last_message": reason(self.env), "event_id": self.id}
                )
                link._chase_expired()
                return "processed", self.env._("The payment link expired unpaid.")
            link.write(
                {"state": "cancelled", "last_message": reason(self.env), "event_id": self.id}
            )
            if code in _CARD_GONE:
                self._yookassa_forget_method(subscription, obj, reason)
            retry = self._autopay_retry(link, code in _RETRIED, reason)
            pay_url = None
            # Not for the shop's own cancellation, nor for a payment of one of our links
            # (the client was on the payment page already: one email per attempt at most);
            # an autopayment declined is a payment the client has not seen.
            if code != "canceled_by_merchant" and not (link and not link.autopayment):
                pay_url = self._failure_link(
                    subscription, amount, currency, invoice=link.invoice_id
                )
            if pay_url:
                advice = self._with_link_sent(advice, code)
            retry_day = retry and self._company_day(retry.retry_at)
            if link.autopayment and link.attempt:
                forgotten = not retry and self._forget_declined_card(link, reason)
                advice = self._with_retry(advice, retry, retry_day, link.attempt, forgotten)
            return self._effect_payment_failed(
                subscription,
                amount,
                currency,
                reason,
                next_attempt=retry_day,
                advice=advice,
                pay_url=pay_url,
            )
        # refund.succeeded: money went back; the accountant issues the credit note.
        return self._effect_refund(subscription, amount, currency, obj.get("payment_id"))

    def _yookassa_save_method(self, subscription, method):
        """Keep the card the customer saved with this payment for autopayments."""
        card = method.get("card") if isinstance(method.get("card"), dict) else {}
        title = method.get("title") if isinstance(method.get("title"), str) else None
        if not title and card.get("last4"):
            title = "%s *%s" % (card.get("card_type") or self.env._("Card"), card["last4"])
        subscription._cs_save_card(
            str(method["id"]),
            title or str(method.get("type") or ""),
            lambda name: self.env._(
                "YooKassa: the customer saved %(method)s for autopayments.", method=name
            ),
        )

    def _yookassa_forget_method(self, subscription, obj, reason):
        """The customer revoked autopayments, or the card expired: the saved card it was
        charged to is charged no more."""
        method = obj.get("payment_method") if isinstance(obj.get("payment_method"), dict) else {}
        subscription = subscription.sudo()
        saved = subscription.cs_payment_method_ref
        if not saved or (method.get("id") and str(method["id"]) != saved):
            return  # another card than the one kept
        subscription._cs_forget_saved_card(
            lambda title: self.env._(
                "%(method)s takes no more autopayments (%(reason)s). The next "
                "invoices are not charged to it until the customer pays a link and saves "
                "a card again.",
                method=title,
                reason=reason(self.env),
            )
        )

    @staticmethod
    def _with_link_sent(advice, code):
        """``advice`` once the link went out: where the advice was to send one, only
        that it went."""

        def told(env):
            sent = env._("A new payment link went to the customer with the failed-payment email.")
            return sent if code in _LINK_ADVICE else "%s %s" % (sent, advice(env))

        return told

    def _yookassa_link(self, payment_id):
        """Our payment link that created this payment, if any."""
        return self.env["cs.billing.payment.request"].search(
            [("account_id", "=", self.account_id.id), ("external_id", "=", payment_id or "-")],
            limit=1,
        )

    def _yookassa_link_paid(self, payment_id):
        # A link withdrawn (its invoice settled another way) and paid all the same is
        # paid all the same.
        link = self._yookassa_link(payment_id)
        link.filtered(lambda r: r.state in ("waiting", "withdrawn")).write(
            {"state": "processed", "event_id": self.id, "last_message": "succeeded"}
        )

    def _yookassa_subscription(self, obj):
        if self.subscription_id:
            return self.subscription_id
        link = self._yookassa_link(obj.get("id"))
        if link:
            return link.subscription_id
        ref = yookassa_adapter.subscription_ref(obj)
        if not ref and obj.get("payment_id"):
            # A refund carries no metadata of ours: follow its payment's event.
            return self._subscription_of_event("payment.succeeded:%s" % obj["payment_id"])
        return self._subscription_by_ref(self.account_id, ref)


class CsBillingPaymentRequestYookassa(models.Model):
    """A YooKassa payment link: a payment created through the API, paid by the
    customer on YooKassa's page; its payment.succeeded notification settles it. Or an
    autopayment: an invoice charged to the card the customer saved."""

    _inherit = "cs.billing.payment.request"

    autopayment = fields.Boolean(
        readonly=True,
        copy=False,
        help="YooKassa, Robokassa: charged to the customer's saved card, with no link to pay.",
    )

    @api.depends("autopayment", "retry_at")
    def _compute_display_name(self):
        super()._compute_display_name()
        for request in self.filtered(lambda r: r.autopayment or r.retry_at):
            request.display_name = self.env._(
                "Charge of the saved card %(subscription)s, %(amount)s",
                subscription=request.subscription_id.code or request.subscription_id.display_name,
                amount=tools.format_amount(self.env, request.amount, request.currency_id),
            )

    def _send_yookassa(self):
        for request in self:
            payment = request._yookassa_create(save=request.account_id.sudo().autopayments)
            request.write(
                {
                    "external_id": payment.get("id"),
                    "payment_link": (payment.get("confirmation") or {}).get("confirmation_url"),
                    "state": "waiting",
                    "next_poll_at": fields.Datetime.now() + self.ASK_AFTER,
                }
            )

    def _autopays(self, subscription):
        account = subscription.billing_account_id.sudo()
        if account.provider != "yookassa":
            return super()._autopays(subscription)
        return account.autopayments and bool(subscription.sudo().cs_payment_method_ref)

    def _charge_saved_card(self):
        self.ensure_one()
        if self.account_id.provider != "yookassa":
            return super()._charge_saved_card()
        subscription = self.subscription_id.sudo()
        if not self._autopays(subscription):
            return False
        payment = self._yookassa_create(payment_method=subscription.cs_payment_method_ref)
        self._charged(payment.get("id"))
        self._yookassa_store_outcome(payment)
        return True

    def _yookassa_store_outcome(self, payment):
        """A payment YooKassa settled — an autopayment at once (it mostly is), or one
        asked about because its notification did not come: its outcome goes in the
        inbox as the notification would, under the same key, so the invoice is paid (or
        the failure chased) without waiting for it, and the notification is then a
        duplicate. Applying it fetches the payment again, as for any notification.
        Returns ``(event, created)`` as ``_store`` does, or None while the payment is
        pending."""
        status = payment.get("status")
        if status not in ("succeeded", "canceled"):
            return None  # pending: the notification settles it
        try:
            event = yookassa_adapter.parse(
                json.dumps(
                    {"type": "notification", "event": "payment.%s" % status, "object": payment}
                )
            )
        except PayloadError:
            return None  # not readable as a notification: the notification itself will be
        return self.env["cs.billing.event"].sudo()._store(self.account_id, event)

    def _ask_yookassa(self):
        """The outcome of this waiting payment as YooKassa's API gives it now
        (``Payment.find_one``), into the inbox when it is final; True when its
        notification had not come (see ``_cron_ask_providers``)."""
        account = self.account_id.sudo()
        answer = {}

        def ask():
            answer.update(
                yookassa_adapter.fetch(  # a payment's event type: Payment.find_one
                    "payment.succeeded",
                    self.external_id,
                    account.provider_account_ref,
                    account.api_key,
                )
            )
            return self._yookassa_store_outcome(answer)

        if not self._ask_provider(ask):
            return False
        if answer.get("status") == "succeeded":
            told = self.env._(
                "YooKassa's notification of this payment did not come: YooKassa says it was "
                "paid, and that is applied."
            )
        else:
            told = self.env._(
                "YooKassa's notification of this payment did not come: YooKassa says it was "
                "cancelled, and that is applied."
            )
        self.message_post(body=told)
        return True

    def _yookassa_create(self, save=False, payment_method=None):
        """The payment of this request at YooKassa: a link to pay (saving the card when
        ``save``), or an autopayment charged to ``payment_method``."""
        self.ensure_one()
        account = self.account_id.sudo()
        subscription = self.subscription_id
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        payer = subscription.commercial_partner_id
        description = self._link_description()
        receipt = None
        if account.receipt_vat_code:
            try:
                receipt = yookassa_adapter.receipt(
                    description,
                    self.amount,
                    self.currency_id.name,
                    account.receipt_vat_code,
                    email=payer.email,
                    phone=payer.phone,
                    tax_system=account.receipt_tax_system,
                )
            except PayloadError as exc:
                raise UserError(
                    self.env._(
                        "The receipt (54-FZ) of this payment goes to the customer: give "
                        "%(customer)s an email or a phone number first.",
                        customer=payer.name,
                    )
                ) from exc
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        try:
            return yookassa_adapter.create_payment(
                account.provider_account_ref,
                account.api_key,
                self.amount,
                self.currency_id.name,
                description,
                {"subscription_ref": subscription.code or "", "cs_payment_request": self.id},
                subscription.company_id.website or base,
                # One payment per request, however often it is tried; a charge and the
                # link that may follow it are two payments.
                "cs-%s-%s-%s" % ("autopay" if payment_method else "link", uuid, self.id),
                email=payer.email,
                receipt=receipt,
                save_payment_method=save,
                payment_method_id=payment_method,
            )
        except yookassa_adapter.ApiRefusal as exc:
            raise UserError(
                self.env._("YooKassa refused the payment: %(reason)s", reason=exc)
            ) from exc


class CsBillingAccountYookassa(models.Model):
    """Cards customers saved before the account charged them: found at YooKassa; what
    to check when its notifications do not come."""

    _inherit = "cs.billing.account"

    def _missed_check(self, env):
        if self.provider != "yookassa":
            return super()._missed_check(env)
        return env._(
            "In YooKassa's cabinet (Integration → HTTP notifications), check that the URL "
            "is this account's Webhook URL and that payment.succeeded, payment.canceled and "
            "refund.succeeded are ticked; and that the account's allow-list, if it has one, "
            "lets YooKassa's addresses in."
        )

    SAVED_CARDS_SINCE_DAYS = 400  # a yearly plan's last payment, and a month more

    def action_yookassa_find_saved_cards(self):
        """Keep, for each subscription of this YooKassa account that has no saved card
        yet, the card of its newest payment that saved one (a shop's integration from
        before this CRM, or links paid before Charge Saved Cards was on): its invoices
        are then charged to it. Payments of the last 400 days are read through the API,
        newest first, and matched by the subscription reference in their metadata."""
        self.ensure_one()
        if not self.env.user.has_group("customer_success.group_cs_manager"):
            raise AccessError(
                self.env._("Only Customer Success managers look for customers' saved cards.")
            )
        account = self.sudo()
        if account.provider != "yookassa" or not account.autopayments:
            raise UserError(
                self.env._("Saved cards are looked for on a YooKassa account that charges them.")
            )
        since = fields.Datetime.now() - timedelta(days=self.SAVED_CARDS_SINCE_DAYS)
        try:
            payments, more = yookassa_adapter.saved_card_payments(
                account.provider_account_ref,
                account.api_key,
                since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            )
        except (yookassa_adapter.ApiRefusal, AuthenticityError) as exc:
            raise UserError(
                self.env._("YooKassa did not list the payments: %(reason)s", reason=str(exc))
            ) from exc
        refs = {yookassa_adapter.subscription_ref(payment) for payment in payments} - {None}
        subscriptions = (
            self.env["sale.subscription"]
            .sudo()
            .search(
                [
                    ("billing_account_id", "=", account.id),
                    "|",
                    ("external_subscription_ref", "in", list(refs)),
                    ("code", "in", list(refs)),
                ]
            )
        )
        by_ref = {sub.code: sub for sub in subscriptions if sub.code}
        by_ref.update(
            {
                sub.external_subscription_ref: sub
                for sub in subscriptions
                if sub.external_subscription_ref
            }
        )
        Event = self.env["cs.billing.event"].sudo()
        kept = self.env["sale.subscription"]
        for payment in payments:  # newest first: a subscription keeps its newest card
            subscription = by_ref.get(yookassa_adapter.subscription_ref(payment))
            if subscription and not subscription.cs_payment_method_ref:
                Event._yookassa_save_method(subscription, payment["payment_method"])
                kept |= subscription
        message = self.env._(
            "Saved cards found for %(count)s subscriptions, in %(payments)s payments of the "
            "last %(days)s days that saved one.",
            count=len(kept),
            payments=len(payments),
            days=self.SAVED_CARDS_SINCE_DAYS,
        )
        if more:
            message += " " + self.env._(
                "YooKassa lists more payments of that time than one search reads "
                "(%(pages)s pages of 100): only the newest were read.",
                pages=yookassa_adapter.SAVED_PAGES,
            )
        return account._cs_told(
            self.env._("Saved Cards"),
            message,
            kind="success" if kept else "info",
            sticky=bool(more),
        )
