# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import datetime

from markupsafe import Markup

from odoo import fields
from odoo import models

from ..services import mrr as mrr_service
from ..services.providers import stripe_adapter
from ..services.providers.common import to_major


def _ts(value):
    return datetime.utcfromtimestamp(int(value)).date() if value else False


class CsBillingEventStripe(models.Model):
    """Stripe's effects (SPEC B4): one file, the rest is the shared inbox."""

    _inherit = "cs.billing.event"

    def _apply_stripe(self):
        self.ensure_one()
        data = self._data()
        obj = (data.get("data") or {}).get("object") or {}
        if self.event_type not in stripe_adapter.HANDLED:
            return "ignored", self.env._("Event type not used by Customer Success.")
        ref = stripe_adapter.subscription_ref(obj)
        subscription = self.subscription_id or self.env["sale.subscription"].search(
            [
                ("billing_account_id", "=", self.account_id.id),
                ("external_subscription_ref", "=", ref or "-"),
            ],
            limit=1,
        )
        if not subscription:
            return "unmatched", self.env._(
                "No subscription of this billing account has the Stripe ID %(ref)s. "
                "Link one on this event, then reprocess.",
                ref=ref or "-",
            )
        subscription = self._bind(subscription)
        customer = stripe_adapter.customer_ref(obj)
        if customer and not subscription.external_customer_ref:
            subscription.external_customer_ref = customer
        if self.event_type.startswith("customer.subscription."):
            return self._stripe_subscription(subscription, obj, data)
        return self._stripe_invoice(subscription, obj)

    # ------------------------------------------------------------------
    def _stripe_subscription(self, subscription, obj, data):
        if self._is_stale(subscription.cs_billing_synced_at):
            return "ignored", self.env._("Older than the subscription state already applied.")
        status = obj.get("status")
        previous = (data.get("data") or {}).get("previous_attributes") or {}
        vals = {"cs_billing_synced_at": self.event_created}
        if self.event_type == "customer.subscription.deleted" or status == "canceled":
            return self._stripe_cancel(subscription, obj, vals)
        if self.event_type in self._SUPERSEDABLE_TYPES:
            newer = self._superseded_by(status)
            if newer:
                return "ignored", self.env._(
                    "Superseded by %(event)s, a newer state of the same day.", event=newer
                )
        # Transitions are read from the state already applied, not only from
        # previous_attributes: a superseded event may have carried them.
        was_cancel_scheduled = subscription.cs_cancel_scheduled
        was_trial = subscription.cs_is_trial or previous.get("status") == "trialing"
        old_mrr = subscription.mrr
        new_mrr = stripe_adapter.subscription_mrr(obj)
        item = ((obj.get("items") or {}).get("data") or [{}])[0]
        period_end = _ts(item.get("current_period_end") or obj.get("current_period_end"))
        vals.update(
            {
                # Stripe gave up collecting: delinquent churn until paid again.
                "cs_delinquent": status == "unpaid",
                "cs_cancel_scheduled": bool(obj.get("cancel_at_period_end")),
                "cs_is_trial": status == "trialing",
                "cs_trial_end_date": _ts(obj.get("trial_end")) if status == "trialing" else False,
                "seats": stripe_adapter.subscription_quantity(obj) or subscription.seats,
            }
        )
        if status in stripe_adapter.PAYMENT_STATUS:
            vals["payment_status"] = stripe_adapter.PAYMENT_STATUS[status]
        if period_end:
            vals["next_payment_date"] = period_end
            if subscription.renewal_type == "auto":
                vals["renewal_date"] = period_end
        commands = subscription._cs_recurring_amount_commands(new_mrr)
        if commands:
            vals["sale_subscription_line_ids"] = commands
        # One write: flags, dates and price move together, so the ledger sees one change.
        subscription.with_context(cs_churn_kind="delinquent").write(vals)
        if subscription.stage_id.type != "in_progress" and status in (
            "active",
            "trialing",
            "past_due",
        ):
            subscription.action_start_subscription()
        messages = []
        partner = subscription.commercial_partner_id
        delta = subscription.mrr - old_mrr
        if old_mrr and delta > 0:
            self._schedule(
                subscription,
                self.env._("Upgrade: thank %(customer)s", customer=partner.name),
                self.env._(
                    "%(customer)s upgraded in Stripe: MRR %(old)s → %(new)s %(currency)s.",
                    customer=partner.name,
                    old=old_mrr,
                    new=subscription.mrr,
                    currency=subscription.currency_id.name,
                ),
                days=2,
            )
            messages.append(self.env._("Upgrade, MRR +%(delta)s", delta=round(delta, 2)))
        elif old_mrr and delta < 0 and subscription.mrr:
            self._schedule(
                subscription,
                self.env._("Downgrade: call %(customer)s today", customer=partner.name),
                self.env._(
                    "%(customer)s downgraded in Stripe: MRR %(old)s → %(new)s %(currency)s. "
                    "Find out why and try to win the revenue back.",
                    customer=partner.name,
                    old=old_mrr,
                    new=subscription.mrr,
                    currency=subscription.currency_id.name,
                ),
            )
            messages.append(self.env._("Downgrade, MRR %(delta)s", delta=round(delta, 2)))
        if obj.get("cancel_at_period_end") and not was_cancel_scheduled:
            self._schedule(
                subscription,
                self.env._("Cancellation scheduled: %(customer)s", customer=partner.name),
                self.env._(
                    "%(customer)s scheduled the cancellation of the subscription at the end of "
                    "the paid period (%(date)s). Talk to them before it ends.",
                    customer=partner.name,
                    date=period_end or "-",
                ),
            )
            messages.append(self.env._("Cancellation scheduled"))
        if was_trial and status == "active":
            messages.append(self.env._("Trial converted"))
        result = "; ".join(messages) or self.env._("Subscription synced")
        subscription._message_log(
            body=Markup("<p>%s</p>")
            % self.env._("Stripe %(type)s: %(result)s", type=self.event_type, result=result),
        )
        return "processed", result

    def _stripe_cancel(self, subscription, obj, vals):
        vals["payment_status"] = "cancelled"
        details = obj.get("cancellation_details") or {}
        reason = details.get("feedback") or details.get("reason") or ""
        comment = details.get("comment") or ""
        subscription.write(vals)
        if subscription.stage_id.type != "post":
            subscription.close_subscription()
        partner = subscription.commercial_partner_id
        self._schedule(
            subscription,
            self.env._("Exit interview: %(customer)s", customer=partner.name),
            self.env._(
                "%(customer)s cancelled in Stripe (%(reason)s). Hold the exit interview and "
                "record the churn reason. %(comment)s",
                customer=partner.name,
                reason=reason or self.env._("no reason given"),
                comment=comment,
            ),
            days=1,
        )
        subscription._message_log(
            body=Markup("<p>%s</p>")
            % self.env._(
                "Stripe: subscription cancelled (%(reason)s).",
                reason=reason or self.env._("no reason given"),
            ),
        )
        return "processed", self.env._("Cancelled (%(reason)s)", reason=reason or "-")

    # ------------------------------------------------------------------
    def _stripe_invoice(self, subscription, obj):
        code = (obj.get("currency") or "").upper()
        currency = self._find_currency(code, subscription.currency_id)
        if self.event_type == "invoice.paid":
            line = ((obj.get("lines") or {}).get("data") or [{}])[0]
            return self._effect_payment_succeeded(
                subscription,
                to_major(obj.get("amount_paid"), code),
                currency,
                obj.get("number") or obj.get("id"),
                _ts((line.get("period") or {}).get("end") or obj.get("period_end")),
            )
        # invoice.payment_failed / invoice.marked_uncollectible
        return self._effect_payment_failed(
            subscription,
            to_major(obj.get("amount_remaining", obj.get("amount_due")), code),
            currency,
            self.env._("Stripe, attempt %(attempt)s", attempt=obj.get("attempt_count") or 1),
            next_attempt=_ts(obj.get("next_payment_attempt")),
            notify=self.event_type == "invoice.payment_failed",
        )


class SaleSubscriptionBilling(models.Model):
    _inherit = "sale.subscription"

    cs_billing_synced_at = fields.Datetime(
        string="Provider State Time",
        readonly=True,
        copy=False,
        help="Provider time of the newest subscription event applied: older ones are ignored.",
    )
    cs_cancel_scheduled = fields.Boolean(
        string="Cancellation Scheduled",
        readonly=True,
        copy=False,
        help="The customer asked to cancel at the end of the paid period.",
    )
    cs_payment_synced_at = fields.Datetime(
        string="Provider Payment Time", readonly=True, copy=False
    )

    def action_cs_kaspi_payment_link(self):
        """Create and send a Kaspi QR payment link for the next period (manual renewal)."""
        self.ensure_one()
        request = self.env["cs.billing.payment.request"].create(
            {
                "account_id": self.billing_account_id.id,
                "subscription_id": self.id,
                "amount": self.amount_due or self.amount_total,
                "currency_id": self.currency_id.id,
            }
        )
        request.action_send()
        return {
            "type": "ir.actions.act_window",
            "res_model": "cs.billing.payment.request",
            "res_id": request.id,
            "view_mode": "form",
        }

    def _cs_recurring_amount_commands(self, mrr):
        """Line commands making the subscription bill ``mrr`` a month, or [] if it does.

        Provider-run subscriptions keep one recurring line priced from the
        provider. No MRR from the provider (trial, paused, unpaid) keeps the
        contract price: the trial flag or the payment status tells the rest.
        """
        self.ensure_one()
        lines = self.sale_subscription_line_ids
        if not mrr or not lines:
            return []
        months = mrr_service.months_in_period(
            self.template_id.recurring_rule_type, self.template_id.recurring_interval
        )
        current = sum(lines.mapped("price_subtotal")) / months
        if self.currency_id.compare_amounts(current, mrr) == 0:
            return []
        first = lines[0]
        quantity = first.product_uom_qty or 1.0
        commands = [(1, first.id, {"price_unit": mrr * months / quantity, "discount": 0.0})]
        return commands + [(2, line.id) for line in lines[1:]]
