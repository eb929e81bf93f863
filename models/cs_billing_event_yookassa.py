# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.exceptions import UserError

from ..services.providers import yookassa_adapter
from ..services.providers.common import PayloadError

# What the API status of the re-fetched object means, whatever the notification said.
_PAYMENT_EFFECT = {"succeeded": "payment.succeeded", "canceled": "payment.canceled"}


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
            if obj.get("payment_method", {}).get("saved") and obj["payment_method"].get("id"):
                subscription.external_customer_ref = (
                    subscription.external_customer_ref or obj["payment_method"]["id"]
                )
            outcome = self._effect_payment_succeeded(
                subscription, amount, currency, obj.get("id"), subscription.recurring_next_date
            )
            self._yookassa_link_paid(obj.get("id"))
            return outcome
        if effect == "payment.canceled":
            reason = (obj.get("cancellation_details") or {}).get("reason") or "canceled"
            link = self._yookassa_link(obj.get("id")).filtered(lambda r: r.state == "waiting")
            if link and reason == "expired_on_confirmation":
                # The customer never opened our link: no failed payment to chase.
                link.write({"state": "expired", "last_message": reason, "event_id": self.id})
                return "processed", self.env._("The payment link expired unpaid.")
            link.write({"state": "cancelled", "last_message": reason, "event_id": self.id})
            return self._effect_payment_failed(
                subscription, amount, currency, lambda env: env._("YooKassa: %(r)s", r=reason)
            )
        # refund.succeeded: money went back; the accountant issues the credit note.
        return self._effect_refund(subscription, amount, currency, obj.get("payment_id"))

    def _yookassa_link(self, payment_id):
        """Our payment link that created this payment, if any."""
        return self.env["cs.billing.payment.request"].search(
            [("account_id", "=", self.account_id.id), ("external_id", "=", payment_id or "-")],
            limit=1,
        )

    def _yookassa_link_paid(self, payment_id):
        self._yookassa_link(payment_id).filtered(lambda r: r.state == "waiting").write(
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
    customer on YooKassa's page; its payment.succeeded notification settles it."""

    _inherit = "cs.billing.payment.request"

    def _send_yookassa(self):
        for request in self:
            account = request.account_id.sudo()
            subscription = request.subscription_id
            base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
            payer = subscription.commercial_partner_id
            description = request._link_description()
            receipt = None
            if account.receipt_vat_code:
                try:
                    receipt = yookassa_adapter.receipt(
                        description,
                        request.amount,
                        request.currency_id.name,
                        account.receipt_vat_code,
                        email=payer.email,
                        phone=payer.phone,
                        tax_system=account.receipt_tax_system,
                    )
                except PayloadError as exc:
                    raise UserError(
                        self.env._(
                            "The receipt (54-FZ) of this payment link goes to the customer: "
                            "give %(customer)s an email or a phone number first.",
                            customer=payer.name,
                        )
                    ) from exc
            try:
                payment = yookassa_adapter.create_payment(
                    account.provider_account_ref,
                    account.api_key,
                    request.amount,
                    request.currency_id.name,
                    description,
                    {
                        "subscription_ref": subscription.code or "",
                        "cs_payment_request": request.id,
                    },
                    subscription.company_id.website or base,
                    # One payment per link, however often the button is pressed.
                    "cs-link-%s-%s"
                    % (
                        self.env["ir.config_parameter"].sudo().get_param("database.uuid", ""),
                        request.id,
                    ),
                    email=payer.email,
                    receipt=receipt,
                )
            except yookassa_adapter.ApiRefusal as exc:
                raise UserError(
                    self.env._("YooKassa refused the payment: %(reason)s", reason=exc)
                ) from exc
            request.write(
                {
                    "external_id": payment.get("id"),
                    "payment_link": (payment.get("confirmation") or {}).get("confirmation_url"),
                    "state": "waiting",
                }
            )
