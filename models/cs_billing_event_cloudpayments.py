# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from markupsafe import Markup

from odoo import models

from ..services.providers import cloudpayments_adapter


class CsBillingEventCloudpayments(models.Model):
    """CloudPayments' effects: the API's copy of the transaction or subscription
    decides, never the notification alone."""

    _inherit = "cs.billing.event"

    def _cloudpayments_api(self, fetch, object_id):
        account = self.account_id.sudo()
        return fetch(
            account.cloudpayments_api_url,
            account.provider_account_ref,
            account.api_key,
            object_id,
        )

    def _apply_cloudpayments(self):
        self.ensure_one()
        data = self._data()
        if self.event_type == "recurrent":
            return self._cloudpayments_recurrent(data)
        if self.event_type == "refund":
            return self._cloudpayments_refund(data)
        if self.event_type in ("pay", "confirm", "fail"):
            return self._cloudpayments_payment(data)
        return "ignored", self.env._("Event type not used by Customer Success.")

    def _cloudpayments_subscription(self, obj):
        """The subscription an API object belongs to: its CloudPayments subscription
        id, else the ``InvoiceId`` given to the widget (our subscription code or
        reference), else the one running subscription of its ``AccountId``."""
        if self.subscription_id:
            return self.subscription_id
        Sub = self.env["sale.subscription"]
        domain = [("billing_account_id", "=", self.account_id.id)]
        ref = obj.get("SubscriptionId") or obj.get("Id")
        if ref:
            found = Sub.search(domain + [("external_subscription_ref", "=", ref)], limit=1)
            if found:
                return found
        found = self._subscription_by_ref(self.account_id, obj.get("InvoiceId"))
        if found:
            return found
        customer = obj.get("AccountId")
        if customer:
            return self._sole_subscription([("external_customer_ref", "=", customer)])
        return Sub

    def _cloudpayments_unmatched(self, obj):
        return "unmatched", self.env._(
            "No subscription of this billing account matches CloudPayments subscription "
            "%(ref)s, invoice %(invoice)s or account %(account)s. "
            "Link one on this event, then reprocess.",
            ref=obj.get("SubscriptionId") or obj.get("Id") or "-",
            invoice=obj.get("InvoiceId") or "-",
            account=obj.get("AccountId") or "-",
        )

    def _cloudpayments_link(self, subscription, obj, ref_key):
        """Remember the provider's ids on a subscription matched another way."""
        vals = {}
        if obj.get(ref_key) and not subscription.external_subscription_ref:
            vals["external_subscription_ref"] = obj[ref_key]
        if obj.get("AccountId") and not subscription.external_customer_ref:
            vals["external_customer_ref"] = obj["AccountId"]
        if vals:
            subscription.write(vals)

    # ------------------------------------------------------------------
    def _cloudpayments_payment(self, data):
        """Pay / Confirm / Fail: the outcome the API gives the transaction."""
        notified = data.get("Status") or ("Declined" if self.event_type == "fail" else "")
        model = self._cloudpayments_api(
            cloudpayments_adapter.fetch_payment, data.get("TransactionId")
        )
        status = model.get("Status")
        if status != notified:
            # Each outcome has its own notification (Pay, Confirm, Fail), and that one
            # applies it: acting here too would count the payment twice.
            return "ignored", self.env._(
                "The API says the transaction is %(api)s, the notification said %(notified)s: "
                "nothing done here.",
                api=status or "-",
                notified=notified or "-",
            )
        if status == "Authorized":
            return "ignored", self.env._(
                "Authorised, not yet charged: the Confirm notification applies the payment."
            )
        if status not in ("Completed", "Declined"):
            return "ignored", self.env._("The API says the transaction is %(api)s.", api=status)
        subscription = self._cloudpayments_subscription(model)
        if not subscription:
            return self._cloudpayments_unmatched(model)
        subscription = self._bind(subscription)
        self._cloudpayments_link(subscription, model, "SubscriptionId")
        amount = cloudpayments_adapter.amount(model)
        currency = self._find_currency(model.get("Currency"), subscription.currency_id)
        if status == "Completed":
            return self._effect_payment_succeeded(
                subscription,
                amount,
                currency,
                str(model.get("TransactionId")),
                subscription.recurring_next_date,
            )
        reason = model.get("CardHolderMessage") or model.get("Reason") or data.get("Reason")
        return self._effect_payment_failed(
            subscription,
            amount,
            currency,
            lambda env: env._("CloudPayments: %(reason)s", reason=reason or "-"),
        )

    def _cloudpayments_refund(self, data):
        """Refund: acted on once the API shows the original payment as refunded."""
        payment_id = data.get("PaymentTransactionId")
        model = self._cloudpayments_api(cloudpayments_adapter.fetch_payment, payment_id)
        if not model.get("Refunded"):
            return "ignored", self.env._(
                "The API does not show payment %(payment)s as refunded.", payment=payment_id
            )
        subscription = self._cloudpayments_subscription(model)
        if not subscription:
            subscription = self._subscription_of_event("%s:Completed" % payment_id)
        if not subscription:
            return self._cloudpayments_unmatched(model)
        subscription = self._bind(subscription)
        currency = self._find_currency(
            data.get("Currency") or model.get("Currency"), subscription.currency_id
        )
        return self._effect_refund(
            subscription, cloudpayments_adapter.amount(data), currency, payment_id
        )

    def _cloudpayments_recurrent(self, data):
        """Recurrent: the subscription's state as the API gives it now (so the order
        in which notifications arrive does not matter)."""
        model = self._cloudpayments_api(cloudpayments_adapter.fetch_subscription, data.get("Id"))
        subscription = self._cloudpayments_subscription(model)
        if not subscription:
            return self._cloudpayments_unmatched(model)
        subscription = self._bind(subscription)
        self._cloudpayments_link(subscription, model, "Id")
        status = model.get("Status")
        synced = {"cs_billing_synced_at": self.event_created}
        if status == "Rejected":
            # CloudPayments stopped the subscription after failed charges.
            return self._effect_cancelled(
                subscription,
                lambda env: env._("the payments failed"),
                vals=synced,
                delinquent=True,
            )
        if status in ("Cancelled", "Expired"):
            if status == "Expired":
                reason = lambda env: env._("the last paid period was reached")  # noqa: E731
            else:
                reason = lambda env: env._("cancelled in CloudPayments")  # noqa: E731
            return self._effect_cancelled(subscription, reason, vals=synced)
        if status not in ("Active", "PastDue"):
            return "ignored", self.env._("Unknown subscription status %(status)s.", status=status)
        old_mrr = subscription.mrr
        vals = dict(
            synced,
            payment_status="paid" if status == "Active" else "overdue",
            cs_delinquent=False,
            cs_cancel_scheduled=False,
        )
        next_date = self._provider_date(  # ``2026-10-01T09:00:00``, UTC
            cloudpayments_adapter.timestamp(model.get("NextTransactionDateIso"))
        )
        if next_date:
            vals["next_payment_date"] = next_date
            if subscription.renewal_type == "auto":
                vals["renewal_date"] = next_date
        commands = subscription._cs_recurring_amount_commands(
            cloudpayments_adapter.subscription_mrr(model),
            model.get("Currency"),
            self._provider_name(),
        )
        if commands:
            vals["sale_subscription_line_ids"] = commands
        # Active after PastDue: CloudPayments' retry went through.
        paid_again = self._paid_again(subscription, vals)
        subscription.write(vals)
        if subscription.stage_id.type != "in_progress":
            subscription.action_start_subscription()
        todos, messages = self._mrr_change(subscription, old_mrr)
        if paid_again:
            messages.append(self._paid_again_note(subscription))
        self._schedule_many(todos)
        if status == "PastDue":
            messages.append(self.env._("Payment overdue, CloudPayments retries"))
        result = "; ".join(messages) or self.env._("Subscription synced")
        subscription._message_log(
            body=Markup("<p>%s</p>")
            % self.env._(
                "CloudPayments subscription %(ref)s: %(result)s",
                ref=model.get("Id") or "-",
                result=result,
            )
        )
        return "processed", result
