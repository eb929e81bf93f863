# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import calendar
import logging
from collections import Counter
from collections import defaultdict
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..services import mrr as mrr_service
from ..services.providers import stripe_adapter
from ..services.providers.common import as_dict
from ..services.providers.common import to_major
from .cs_billing_account import STRIPE_API_VERSION
from .cs_billing_event import OWING

_logger = logging.getLogger(__name__)


def _minor(value):
    """A Stripe amount in minor units, 0 when absent. Anything but a whole number is
    refused: money read as nothing would settle an invoice nobody paid."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError("a Stripe amount is a whole number of minor units, not %r" % (value,))


class CsBillingEventStripe(models.Model):
    """Stripe's effects (SPEC B4): one file, the rest is the shared inbox."""

    _inherit = "cs.billing.event"

    _REFUND_REVERSAL_TYPES = ("refund.failed",)
    # The payment events whose order tells a subscription's payment state.
    _PAYMENT_STATE_TYPES = (
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.marked_uncollectible",
    )

    counted_as_debt = fields.Boolean(
        string="Counted as Debt",
        readonly=True,
        copy=False,
        help="Stripe marked this invoice uncollectible and it was counted as a debt "
        "written off. Should the event pausing collection with free invoices arrive "
        "later, this invoice is re-read as free.",
    )

    def init(self):
        super().init()
        # The earlier events of a charge, to match a refund or dispute that names only
        # its charge: few rows (charges' events), none of the subscription traffic.
        create_index(
            self.env.cr,
            "cs_billing_event_charge_index",
            self._table,
            ["account_id", "object_ref"],
            where="event_type IN (%s)"
            % ", ".join("'%s'" % kind for kind in stripe_adapter.CHARGE_EVENT_TYPES),
        )
        # The earlier events of a subscription schedule, to leave an older one unapplied.
        create_index(
            self.env.cr,
            "cs_billing_event_schedule_index",
            self._table,
            ["account_id", "object_ref"],
            where="event_type LIKE 'subscription_schedule.%%'",
        )

    def _apply_stripe(self):
        self.ensure_one()
        data = self._data()
        obj = (data.get("data") or {}).get("object") or {}
        if self.event_type not in stripe_adapter.HANDLED:
            return "ignored", self.env._("Event type not used by Customer Success.")
        wrong = stripe_adapter.wrong_object(self.event_type, obj)
        if wrong:
            raise ValueError(wrong)  # misshapen: failed at once, said so
        if self.event_type == "charge.refunded":
            subscription = (
                self.subscription_id
                or self._stripe_charge_subscription(obj)
                or self._stripe_subscription_of_charge_events()
            )
            ref = stripe_adapter.customer_ref(obj)
        elif self.event_type.startswith("charge.dispute.") or self.event_type == "refund.failed":
            subscription, ref = self._stripe_named_charge_subscription(obj)
        else:
            ref = stripe_adapter.subscription_ref(obj)
            if not self.subscription_id and stripe_adapter.of_no_subscription(obj):
                return self._stripe_one_off_invoice(obj)
            if self.event_type.startswith("subscription_schedule.") and not ref:
                return "ignored", self.env._(
                    "A subscription schedule of no subscription yet: the subscription it "
                    "creates when it starts brings its own events."
                )
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
        if self.event_type in stripe_adapter.CHARGE_EVENT_TYPES:
            self._stripe_requeue_charge_events()
        customer = stripe_adapter.customer_ref(obj)
        if customer and not subscription.external_customer_ref:
            subscription.external_customer_ref = customer
        if self.event_type == "customer.subscription.trial_will_end":
            return self._stripe_trial_ending(subscription, obj)
        if self.event_type == "invoice.payment_action_required":
            return self._stripe_action_required(subscription, obj)
        if self.event_type.startswith("customer.subscription."):
            return self._stripe_subscription(subscription, obj, data)
        if self.event_type.startswith("subscription_schedule."):
            return self._stripe_schedule(subscription, obj)
        if self.event_type == "charge.refunded":
            return self._stripe_refund(subscription, obj, data)
        if self.event_type.startswith("charge.dispute."):
            return self._stripe_dispute(subscription, obj, data)
        if self.event_type == "refund.failed":
            return self._stripe_refund_failed(subscription, obj)
        if self.event_type == "invoice.voided":
            return self._stripe_voided(subscription, obj)
        return self._stripe_invoice(subscription, obj)

    def _stripe_charge_subscription(self, charge):
        """The subscription a refunded charge paid: ours named in its metadata, else the
        one subscription of this account for its Stripe customer (the running one if
        the customer has several). Since API 2025-03-31.basil a charge no longer names
        its invoice."""
        metadata = charge.get("metadata") if isinstance(charge.get("metadata"), dict) else {}
        ref = metadata.get("subscription_ref")
        found = self._subscription_by_ref(self.account_id, ref if isinstance(ref, str) else None)
        customer = stripe_adapter.customer_ref(charge)
        if found or not customer:
            return found
        return self._sole_subscription(
            [("external_customer_ref", "=", customer)], running_only=False
        )

    def _stripe_subscription_of_charge_events(self):
        """The subscription an earlier event of the same charge was applied to (its
        refund, its dispute's opening, linked by a user or matched otherwise)."""
        if not self.object_ref:
            return self.env["sale.subscription"]
        self.flush_model(["subscription_id"])  # an earlier event of this chunk, just bound
        self.env.cr.execute(
            SQL(
                """
                SELECT subscription_id FROM cs_billing_event
                 WHERE account_id = %(account)s AND object_ref = %(charge)s
                   AND event_type IN %(types)s
                   AND subscription_id IS NOT NULL AND id != %(id)s
              ORDER BY id DESC
                 LIMIT 1
                """,
                account=self.account_id.id,
                charge=self.object_ref,
                types=stripe_adapter.CHARGE_EVENT_TYPES,
                id=self.id or 0,
            )
        )
        row = self.env.cr.fetchone()
        return self.env["sale.subscription"].browse(row[0] if row else [])

    def _stripe_requeue_charge_events(self):
        """Events of the same charge that matched nothing (a failed refund that came
        before its refund, order not being guaranteed) go back to the inbox now that
        this one is bound: they find its subscription there."""
        if not self.object_ref:
            return
        waiting = self.search(
            [
                ("account_id", "=", self.account_id.id),
                ("object_ref", "=", self.object_ref),
                ("event_type", "in", stripe_adapter.CHARGE_EVENT_TYPES),
                ("state", "=", "unmatched"),
                ("id", "!=", self.id),
            ]
        )
        if waiting:
            waiting._requeue()
            waiting._close_settled_alerts()
            self.env.ref("customer_success.ir_cron_billing_events")._trigger()

    def _stripe_named_charge_subscription(self, obj):
        """A dispute or a refund names only its charge: the subscription a user linked,
        ours named in its metadata, that of an earlier event of the charge, else the
        charge's customer as Stripe's API gives it when the billing account has an API
        key; without one, the event waits in Unmatched for a user to link it.

        :return: (subscription, the charge id, shown when nothing matches)
        """
        charge_id = stripe_adapter.charge_ref(obj)
        if self.subscription_id:
            return self.subscription_id, charge_id
        # A dispute or a refund names no customer: only the metadata is read there.
        found = (
            self._stripe_charge_subscription(obj) or self._stripe_subscription_of_charge_events()
        )
        api_key = self.account_id.sudo().api_key
        if found or not api_key or not charge_id:
            return found, charge_id
        charge = stripe_adapter.fetch_charge(api_key, charge_id)
        return self._stripe_charge_subscription(charge), stripe_adapter.customer_ref(charge)

    def _stripe_dispute(self, subscription, dispute, data=None):
        """A chargeback: opened, an urgent to-do (the customer is unhappy enough to go to
        their bank, and evidence is due); closed and lost, the money is gone and waits
        in Payments to Reconcile; won, the to-do is done. Its status changes and the
        money Stripe holds back or returns while the bank decides are chatter notes."""
        partner = subscription.commercial_partner_id
        code = (dispute.get("currency") or "").upper()
        amount = to_major(dispute.get("amount"), code)
        currency = self._find_currency(code, subscription.currency_id)
        reason = dispute.get("reason")
        status = dispute.get("status")

        def summary(env):
            return env._("Dispute: call %(customer)s today", customer=partner.name)

        if self.event_type == "charge.dispute.created":
            due = self._provider_date((dispute.get("evidence_details") or {}).get("due_by"))
            self._schedule(
                subscription,
                summary,
                lambda env: env._(
                    "%(customer)s disputes a payment of %(amount)s %(currency)s with their "
                    "bank (%(reason)s). Find out what went wrong; evidence is due in Stripe "
                    "by %(date)s.",
                    customer=partner.name,
                    amount=self._money(amount, currency, env),
                    currency=currency.name,
                    reason=self._stripe_dispute_reason(reason, env),
                    date=tools.format_date(env, due) if due else "-",
                ),
            )
            message = self.env._(
                "Dispute opened: %(amount)s %(currency)s (%(reason)s)",
                amount=self._money(amount, currency),
                currency=currency.name,
                reason=self._stripe_dispute_reason(reason, self.env),
            )
        elif self.event_type == "charge.dispute.updated":
            previous = ((data or {}).get("data") or {}).get("previous_attributes") or {}
            old = previous.get("status") if isinstance(previous, dict) else None
            if not old or old == status:
                # Evidence saved as a draft, metadata: nothing a CSM acts on.
                return "ignored", self.env._("Dispute updated, its status unchanged.")
            if self._stripe_dispute_closed_since():
                return "ignored", self.env._("Older than the dispute's closing already applied.")
            message = self.env._(
                "Dispute: %(old)s → %(new)s",
                old=self._stripe_dispute_status(old),
                new=self._stripe_dispute_status(status),
            )
        elif self.event_type == "charge.dispute.funds_withdrawn":
            # Not a loss yet: the closing says whether the money comes back.
            message = self.env._(
                "Dispute: Stripe holds back %(amount)s %(currency)s until the bank decides",
                amount=self._money(amount, currency),
                currency=currency.name,
            )
        elif self.event_type == "charge.dispute.funds_reinstated":
            message = self.env._(
                "Dispute: Stripe returned the %(amount)s %(currency)s it held back",
                amount=self._money(amount, currency),
                currency=currency.name,
            )
        elif status == "lost":
            self.write({"amount": -amount, "currency_id": currency.id, "to_reconcile": True})
            message = self.env._(
                "Dispute lost: %(amount)s %(currency)s went back to the customer — to reconcile",
                amount=self._money(amount, currency),
                currency=currency.name,
            )
            # The call still matters (the customer got the money back through their
            # bank): the open to-do says how it ended.
            for todo in self._csm_todos(subscription, summary):
                env = todo.with_context(lang=todo.user_id.lang or self.env.lang).env
                outcome = env._(
                    "The bank decided for the customer: %(amount)s %(currency)s went back to them.",
                    amount=self._money(amount, currency, env),
                    currency=currency.name,
                )
                todo.write(
                    {
                        "note": (todo.note or Markup()) + Markup("<p>%s</p>") % outcome,
                        "date_deadline": min(todo.date_deadline, fields.Date.context_today(self)),
                    }
                )
        else:
            message = self.env._(
                "Dispute closed: %(status)s", status=self._stripe_dispute_status(status)
            )
            # Won, or an inquiry closed without a chargeback: no evidence is due any more.
            self._done_by_itself(self._csm_todos(subscription, summary), message)
        subscription._message_log(body=self._stripe_note(message))
        return "processed", message

    def _stripe_dispute_status(self, status):
        """A dispute's status as people read it; Stripe's own code when it is new to us."""
        return {
            "warning_needs_response": self.env._("inquiry, an answer is needed"),
            "warning_under_review": self.env._("inquiry under review"),
            "warning_closed": self.env._("inquiry closed"),
            "needs_response": self.env._("evidence needed"),
            "under_review": self.env._("evidence submitted, under review"),
            "won": self.env._("won"),
            "lost": self.env._("lost"),
            "prevented": self.env._("prevented"),
        }.get(status, status or "-")

    def _stripe_dispute_reason(self, reason, env):
        """What the customer told their bank, in words of ``env``'s language, with
        Stripe's code (the one its dashboard shows)."""
        if not reason:
            return "-"
        words = {
            "bank_cannot_process": env._("the bank could not process the payment"),
            "check_returned": env._("the cheque was returned"),
            "credit_not_processed": env._("a refund or credit they were promised did not come"),
            "customer_initiated": env._("the customer asked their bank to take the payment back"),
            "debit_not_authorized": env._("the customer did not authorise the debit"),
            "duplicate": env._("the customer says they were charged twice"),
            "fraudulent": env._("the cardholder says they did not make the payment"),
            "general": env._("no reason given"),
            "incorrect_account_details": env._("wrong account details"),
            "insufficient_funds": env._("insufficient funds"),
            "product_not_received": env._("the customer says they did not get what they paid for"),
            "product_unacceptable": env._(
                "the customer says what they got was faulty or not as described"
            ),
            "subscription_canceled": env._("the customer says they had cancelled the subscription"),
            "unrecognized": env._("the customer does not recognise the payment"),
        }.get(reason)
        return "%s, %s" % (words, reason) if words else reason

    def _stripe_dispute_closed_since(self):
        """Whether a closing of this dispute's charge, as new as this event or newer,
        was applied already (Stripe does not guarantee the order)."""
        if not self.object_ref or not self.event_created:
            return False
        self.flush_model(["state"])
        self.env.cr.execute(
            SQL(
                """
                SELECT 1 FROM cs_billing_event
                 WHERE account_id = %(account)s AND object_ref = %(charge)s
                   AND event_type = 'charge.dispute.closed'
                   AND state = 'processed' AND event_created >= %(created)s
                   AND id != %(id)s
                 LIMIT 1
                """,
                account=self.account_id.id,
                charge=self.object_ref,
                created=self.event_created,
                id=self.id or 0,
            )
        )
        return bool(self.env.cr.fetchone())

    def _stripe_voided(self, subscription, invoice):
        """A voided invoice is owed no more: what it asked for leaves the amount due,
        and a subscription that owes nothing else is in good standing again."""
        code = (invoice.get("currency") or "").upper()
        currency = self._find_currency(code, subscription.currency_id)
        # What the invoice still asked for; whichever of Stripe's amounts still tells it
        # (a voided invoice may read as zero-value, its total stays).
        paid = _minor(invoice.get("amount_paid"))
        remaining = max(
            _minor(invoice.get("amount_remaining")),
            _minor(invoice.get("amount_due")) - paid,
            _minor(invoice.get("total")) - paid,
        )
        amount = to_major(remaining, code)
        number = invoice.get("number") or invoice.get("id") or "-"
        if self._is_stale(subscription.cs_payment_synced_at):
            return "ignored", self.env._("Older than the payment state already applied.")
        if subscription.currency_id.is_zero(subscription.amount_due) or not amount:
            return "ignored", self.env._(
                "Invoice %(number)s voided; nothing of it was due.", number=number
            )
        due = max(subscription.currency_id.round(subscription.amount_due - amount), 0.0)
        vals = {"amount_due": due, "cs_payment_synced_at": self.event_created}
        settled = subscription.currency_id.is_zero(due)
        # A closed subscription stays cancelled: the debt it left is what goes.
        if (
            settled
            and subscription.payment_status in OWING
            and subscription.stage_id.type != "post"
        ):
            vals["payment_status"] = "paid"
        subscription.write(vals)
        message = self.env._(
            "Invoice %(number)s voided: %(amount)s %(currency)s no longer due",
            number=number,
            amount=self._money(amount, currency),
            currency=currency.name,
        )
        subscription._message_log(body=self._stripe_note(message))
        if settled:
            self._close_payment_issues(subscription, message)
        return "processed", message

    def _stripe_refund(self, subscription, charge, data):
        """B4 "refund": what this event gave back (a partial refund counts once)."""
        code = (charge.get("currency") or "").upper()
        previous = (data.get("data") or {}).get("previous_attributes")
        amount = to_major(stripe_adapter.refunded_amount(charge, previous), code)
        if not amount:
            return "ignored", self.env._("Nothing was refunded by this event.")
        currency = self._find_currency(code, subscription.currency_id)
        return self._effect_refund(subscription, amount, currency, charge.get("id"))

    def _stripe_refund_failed(self, subscription, refund):
        """A refund that failed after it was sent (the card was closed, say): the money
        stayed with the business, so the refund recorded before is undone in Payments to
        Reconcile, and the CSM agrees with the customer another way to return it."""
        code = (refund.get("currency") or "").upper()
        amount = to_major(_minor(refund.get("amount")), code)
        if not amount:
            return "ignored", self.env._("Nothing was refunded by this event.")
        currency = self._find_currency(code, subscription.currency_id)
        reason = refund.get("failure_reason") or "-"
        if not isinstance(reason, str):
            reason = "-"
        partner = subscription.commercial_partner_id
        self.write({"amount": amount, "currency_id": currency.id, "to_reconcile": True})
        self._schedule(
            subscription,
            lambda env: env._("Refund failed: call %(customer)s", customer=partner.name),
            lambda env: env._(
                "The refund of %(amount)s %(currency)s to %(customer)s failed in Stripe "
                "(%(reason)s): the money did not reach them. Agree with them another way "
                "to return it.",
                amount=self._money(amount, currency, env),
                currency=currency.name,
                customer=partner.name,
                reason=reason,
            ),
        )
        message = self.env._(
            "Refund failed: %(amount)s %(currency)s did not reach the customer (%(reason)s) "
            "— to reconcile",
            amount=self._money(amount, currency),
            currency=currency.name,
            reason=reason,
        )
        subscription._message_log(body=self._stripe_note(message))
        return "processed", message

    def _stripe_trial_ending(self, subscription, obj):
        """Three days before a trial ends (Stripe's notice): a to-do to help the customer
        convert; the state itself comes with the subscription events."""
        partner = subscription.commercial_partner_id
        end = self._provider_date(obj.get("trial_end"))
        end_text = tools.format_date(self.env, end) if end else "-"
        provider = self._provider_name()
        self._schedule(
            subscription,
            lambda env: env._("Trial ends: help %(customer)s convert", customer=partner.name),
            lambda env: env._(
                "The %(provider)s trial of %(customer)s ends on %(date)s. Check their usage "
                "and open questions, and help them choose a plan.",
                provider=provider,
                customer=partner.name,
                date=tools.format_date(env, end) if end else "-",
            ),
        )
        return "processed", self.env._("Trial ends on %(date)s: to-do for the CSM", date=end_text)

    def _stripe_action_required(self, subscription, obj):
        """The customer's bank asks them to confirm a payment (3-D Secure): Stripe
        emails them; the CSM gets a to-do to make sure it is done before it fails."""
        partner = subscription.commercial_partner_id
        code = (obj.get("currency") or "").upper()
        amount = to_major(obj.get("amount_due"), code)
        currency = self._find_currency(code, subscription.currency_id)
        invoice = obj.get("number") or obj.get("id") or "-"
        self._schedule(
            subscription,
            lambda env: env._("Payment to confirm: %(customer)s", customer=partner.name),
            lambda env: env._(
                "The payment of %(amount)s %(currency)s by %(customer)s waits for the "
                "customer's confirmation with their bank (invoice %(invoice)s). Make sure "
                "they complete it.",
                amount=self._money(amount, currency, env),
                currency=code,
                customer=partner.name,
                invoice=invoice,
            ),
            activity_type=self._payment_issue_type(),
        )
        return "processed", self.env._(
            "Payment of %(amount)s %(currency)s waits for the customer's confirmation",
            amount=self._money(amount, currency),
            currency=code,
        )

    # ------------------------------------------------------------------
    def _stripe_subscription(self, subscription, obj, data):
        if self._is_stale(subscription.cs_billing_synced_at):
            return "ignored", self.env._("Older than the subscription state already applied.")
        status = obj.get("status")
        previous = (data.get("data") or {}).get("previous_attributes") or {}
        if self.event_type == "customer.subscription.deleted" or status == "canceled":
            # no longer scheduled: it happened
            synced = {"cs_billing_synced_at": self.event_created, "cs_cancel_scheduled": False}
            return self._stripe_cancel(subscription, obj, synced)
        if self.event_type in self._SUPERSEDABLE_TYPES:
            newer = self._superseded_by(status)
            if newer:
                return "ignored", self._superseded_result(newer)
        obj, unread = self._stripe_read_for_mrr(obj)
        # Transitions are read from the state already applied, not only from
        # previous_attributes: a superseded event may have carried them.
        was_cancel_scheduled = subscription.cs_cancel_scheduled
        was_trial = subscription.cs_is_trial or previous.get("status") == "trialing"
        was_paused = subscription.cs_paused
        was_collection_paused = subscription.cs_collection_paused
        old_mrr = subscription.mrr
        old_plan = subscription.template_id
        vals, period_end = self._stripe_subscription_vals(subscription, obj, previous)
        # Stripe makes a subscription active again once its open invoice is paid, and
        # also once it is marked uncollectible: a debt written off is not a payment.
        written_off = (
            vals.get("payment_status") == "paid"
            and subscription.payment_status in OWING
            and self._stripe_written_off(subscription)
        )
        if written_off:
            vals.pop("payment_status")
            vals.pop("cs_payment_synced_at", None)
        paid_again = self._paid_again(subscription, vals)
        # One write: flags, dates and price move together, so the ledger sees one change.
        subscription.with_context(cs_churn_kind="delinquent").write(vals)
        if subscription.stage_id.type != "in_progress" and status in (
            "active",
            "trialing",
            "past_due",
        ):
            subscription.action_start_subscription()
        todos, messages = self._mrr_change(subscription, old_mrr)
        plan_note = self._plan_note(subscription, old_plan)
        if plan_note:
            messages.insert(0, plan_note)
        partner = subscription.commercial_partner_id
        if subscription.cs_cancel_scheduled and not was_cancel_scheduled:
            todos.append(self._cancellation_todo(subscription, obj, period_end))
            messages.append(self.env._("Cancellation scheduled"))
        elif was_cancel_scheduled and not subscription.cs_cancel_scheduled:
            withdrawn = self.env._("Cancellation withdrawn: the subscription goes on")
            self._done_by_itself(self._cancellation_todos(subscription), withdrawn)
            messages.append(withdrawn)
        if was_trial and status == "active":
            messages.append(self.env._("Trial converted"))
        if status == "paused" and not was_paused:
            todos.append(
                (
                    subscription,
                    lambda env: env._("Subscription paused: %(customer)s", customer=partner.name),
                    lambda env: env._(
                        "%(customer)s's subscription is paused at Stripe: nothing is billed "
                        "and it counts no MRR until it resumes. Find out why and when they "
                        "come back.",
                        customer=partner.name,
                    ),
                    0,
                )
            )
            messages.append(
                self.env._(
                    "Paused: no MRR until it resumes (MRR -%(mrr)s)",
                    mrr=self._money(old_mrr, subscription.currency_id),
                )
                if old_mrr
                else self.env._("Paused: no MRR until it resumes")
            )
        elif was_paused and status != "paused":
            messages.append(
                self.env._(
                    "Resumed, MRR +%(mrr)s",
                    mrr=self._money(subscription.mrr, subscription.currency_id),
                )
                if subscription.mrr
                else self.env._("Resumed")
            )
        if subscription.cs_collection_paused and not was_collection_paused:
            todos.append(self._collection_paused_todo(subscription, obj))
            messages.append(self._collection_paused_note(subscription, obj))
            messages += self._stripe_free_earlier_write_offs(subscription)
        elif was_collection_paused and not subscription.cs_collection_paused:
            messages.append(self.env._("Payment collection resumed"))
        scheduled = subscription.cs_scheduled_change_date
        if scheduled and self._event_date() >= scheduled:
            took = self.env._(
                "The plan change scheduled for %(date)s took effect",
                date=tools.format_date(self.env, scheduled),
            )
            self._done_by_itself(self._schedule_todos(subscription), took)
            subscription.cs_scheduled_change_date = False
            messages.append(took)
        if paid_again:
            messages.append(self._paid_again_note(subscription))
        if written_off:
            messages.append(
                self.env._(
                    "Active again because Stripe marked the unpaid invoice uncollectible: "
                    "%(amount)s %(currency)s written off, not paid",
                    amount=self._money(subscription.amount_due, subscription.currency_id),
                    currency=subscription.currency_id.name,
                )
            )
        messages += unread
        self._schedule_many(todos)
        result = "; ".join(messages) or self.env._("Subscription synced")
        subscription._message_log(body=self._stripe_note(result))
        return "processed", result

    def _stripe_read_for_mrr(self, obj):
        """The subscription object with what its MRR needs, and what to say of what is
        left unread.

        An event names a subscription's discounts by id only and never carries the
        tiers of a tiered price: with an API key on the billing account they are read
        from Stripe's API (in the endpoint's pinned version), without one the MRR
        leaves them out and the event says so.

        :raises ApiError: Stripe could not be asked (the event is retried)
        """
        if obj.get("status") in stripe_adapter.NO_MRR_STATUSES:
            return obj, []  # a trial or a paused subscription has no MRR to read
        discounts = stripe_adapter.discount_ids(obj)
        tiered = stripe_adapter.prices_without_tiers(obj)
        truncated = stripe_adapter.items_truncated(obj)
        if not discounts and not tiered and not truncated:
            return obj, []
        account = self.account_id.sudo()
        if not account.api_key:
            self._stripe_ask_for_api_key(account)
        else:
            fetched = stripe_adapter.fetch_subscription(
                account.api_key,
                stripe_adapter.subscription_ref(obj),
                account.stripe_api_version or STRIPE_API_VERSION,
            )
            obj = stripe_adapter.with_expanded(obj, fetched)
            discounts = stripe_adapter.discount_ids(obj)
            tiered = stripe_adapter.prices_without_tiers(obj)
            truncated = stripe_adapter.items_truncated(obj)
        notes = self._stripe_unread_notes(discounts, tiered, asked=bool(account.api_key))
        if truncated:
            notes.append(self._stripe_truncated_note(obj, asked=bool(account.api_key)))
        return obj, notes

    def _stripe_ask_for_api_key(self, account):
        """A to-do for the account's responsible, once: its subscriptions' MRR leaves out
        what Stripe's events do not carry in full (discounts, tiers) until the account
        has an API key (marked done when one is entered)."""
        user = account.user_id
        if not user.active:
            return
        env = self.with_context(lang=user.lang).env
        summary = account._cs_api_key_summary(env)
        if account._cs_alert_todo(user, summary):
            return
        account.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=env._(
                "Subscriptions of %(account)s have discounts, tiered prices or more items "
                "than Stripe's events carry in full: their MRR leaves them out until the "
                "billing account has an API secret key (a restricted key with read access to "
                "subscriptions, coupons and products). Enter one in Configuration → Billing "
                "Accounts; their next events are then counted in full.",
                account=account.name,
            ),
            user_id=user.id,
        )

    def _stripe_unread_notes(self, discounts, tiered, asked):
        """What the event says of the discounts and the tiered prices its MRR could not
        read: not asked for (no API key), or no longer at Stripe when asked."""
        notes = []
        if discounts:
            ids = ", ".join(discounts)
            notes.append(
                self.env._(
                    "Discounts %(ids)s no longer on the subscription at Stripe: not counted",
                    ids=ids,
                )
                if asked
                else self.env._(
                    "Discounts %(ids)s not counted in the MRR: Stripe names them by id "
                    "only; give the billing account an API secret key to read them",
                    ids=ids,
                )
            )
        if tiered:
            ids = ", ".join(tiered)
            notes.append(
                self.env._(
                    "MRR left as it was: %(ids)s no longer on the subscription at Stripe, "
                    "its tiers unknown",
                    ids=ids,
                )
                if asked
                else self.env._(
                    "MRR left as it was: the tiers of %(ids)s are unknown (Stripe sends "
                    "none in its events); give the billing account an API secret key to "
                    "read them",
                    ids=ids,
                )
            )
        return notes

    def _stripe_truncated_note(self, obj, asked):
        """What the event says when it lists only the first of the subscription's items."""
        count = len(as_dict(obj.get("items")).get("data") or [])
        if asked:
            return self.env._(
                "MRR left as it was: Stripe's API did not give all the items of the "
                "subscription (%(count)s read)",
                count=count,
            )
        return self.env._(
            "MRR left as it was: Stripe sent the first %(count)s items of the subscription "
            "only; give the billing account an API secret key to read them all",
            count=count,
        )

    # ------------------------------------------------------------------
    # Subscription schedules: a change of plan set for a later day
    # ------------------------------------------------------------------
    @staticmethod
    def _schedule_summaries(partner):
        """The to-dos of a scheduled change: a downgrade, or a change of unknown worth."""
        return {
            "downgrade": lambda env: env._(
                "Downgrade scheduled: %(customer)s", customer=partner.name
            ),
            "change": lambda env: env._(
                "Plan change scheduled: %(customer)s", customer=partner.name
            ),
        }

    def _schedule_todos(self, subscription, kinds=("downgrade", "change")):
        """The open to-dos of a scheduled change of ``subscription``."""
        summaries = self._schedule_summaries(subscription.commercial_partner_id)
        return self._csm_todos(subscription, *(summaries[kind] for kind in kinds))

    def _stripe_schedule_newer_applied(self):
        """Whether an event of the same subscription schedule, newer than this one,
        was applied already (Stripe does not deliver them in order)."""
        return bool(
            self.search_count(
                [
                    ("account_id", "=", self.account_id.id),
                    ("object_ref", "=", self.object_ref or "-"),
                    ("event_type", "=like", "subscription_schedule.%"),
                    ("state", "=", "processed"),
                    ("event_created", ">", self.event_created),
                    ("id", "!=", self.id),
                ],
                limit=1,
            )
        )

    def _stripe_schedule(self, subscription, schedule):
        """A change of plan set at Stripe for a later day (a subscription schedule:
        Stripe's customer portal makes one for a downgrade at the end of the period).
        The phase that starts next is compared with the subscription's MRR now: a
        lower MRR is a downgrade coming, an urgent to-do for the CSM to find out why
        before it happens (the ledger records it on the day, from the subscription's
        own event); a higher or equal one a chatter note; a change whose prices the
        event names by id only, read through the API when the account has a key, else
        a to-do to talk to the customer. A schedule cancelled, released or completed,
        or with no phase to come, closes those to-dos."""
        if self._stripe_schedule_newer_applied():
            return "ignored", self.env._("Older than the schedule's state already applied.")
        # A phase that began before the subscription's state applied is no change to
        # come (a schedule event Stripe delivers late), whatever the event's own time.
        moments = [m for m in (self.event_created, subscription.cs_billing_synced_at) if m]
        now = calendar.timegm(max(moments).timetuple()) if moments else 0
        phase = None
        if self.event_type not in stripe_adapter.SCHEDULE_ENDED_TYPES and schedule.get(
            "status"
        ) in ("not_started", "active"):
            phase = stripe_adapter.next_phase(schedule, now)
        if not phase:
            result = {
                "subscription_schedule.canceled": self.env._(
                    "The plan change scheduled at Stripe was cancelled"
                ),
                "subscription_schedule.aborted": self.env._(
                    "The plan change scheduled at Stripe was cancelled"
                ),
                "subscription_schedule.released": self.env._(
                    "Subscription schedule released at Stripe: no plan change to come"
                ),
                "subscription_schedule.completed": self.env._(
                    "Subscription schedule completed at Stripe: no plan change to come"
                ),
            }.get(self.event_type) or self.env._("No plan change to come at Stripe any more")
            self._done_by_itself(self._schedule_todos(subscription), result)
            subscription.cs_scheduled_change_date = False
            subscription._message_log(body=self._stripe_note(result))
            return "processed", result
        day = self._provider_date(phase["start_date"])
        subscription.cs_scheduled_change_date = day
        new_mrr, unread = self._stripe_phase_mrr(schedule, phase, subscription.currency_id)
        old_mrr, currency = subscription.mrr, subscription.currency_id
        partner = subscription.commercial_partner_id
        summaries = self._schedule_summaries(partner)

        def amounts(env):
            return {
                "customer": partner.name,
                "date": tools.format_date(env, day),
                "old": self._money(old_mrr, currency, env),
                "new": self._money(new_mrr or 0.0, currency, env),
                "currency": currency.name,
            }

        if new_mrr is None:
            kind = "change"
            result = self.env._("Plan change scheduled for %(date)s", **amounts(self.env))
        elif currency.compare_amounts(new_mrr, old_mrr) < 0:
            kind = "downgrade"
            result = self.env._(
                "Downgrade scheduled for %(date)s: MRR %(old)s → %(new)s %(currency)s",
                **amounts(self.env),
            )
        elif currency.compare_amounts(new_mrr, old_mrr) > 0:
            kind = None
            result = self.env._(
                "Upgrade scheduled for %(date)s: MRR %(old)s → %(new)s %(currency)s",
                **amounts(self.env),
            )
        else:
            kind = None
            result = self.env._(
                "Plan change scheduled for %(date)s, MRR unchanged", **amounts(self.env)
            )

        def note(env):
            if kind == "downgrade":
                return env._(
                    "%(customer)s scheduled a downgrade at Stripe for %(date)s: MRR %(old)s "
                    "→ %(new)s %(currency)s. Find out why and try to keep them on their plan "
                    "before then.",
                    **amounts(env),
                )
            return env._(
                "%(customer)s's plan changes at Stripe on %(date)s; what it is worth is "
                "unknown here (see the subscription's chatter). Talk to them before then.",
                **amounts(env),
            )

        others = [other for other in ("downgrade", "change") if other != kind]
        self._done_by_itself(self._schedule_todos(subscription, others), result)
        if kind:
            self._schedule(subscription, summaries[kind], note)
        result = "; ".join([result, *unread])
        subscription._message_log(body=self._stripe_note(result))
        return "processed", result

    def _stripe_phase_mrr(self, schedule, phase, currency):
        """The MRR of a schedule's ``phase`` in ``currency`` and what is said of what it
        leaves out; None when it cannot be read: its prices are named by id only (read
        through the API when the billing account has a key, with its coupons) or in
        another currency.

        :raises ApiError: Stripe could not be asked (the event is retried)
        """
        account = self.account_id.sudo()
        missing = stripe_adapter.phase_prices_missing(phase)
        if missing and not account.api_key:
            self._stripe_ask_for_api_key(account)
            return None, [
                self.env._(
                    "The prices of the scheduled plan (%(ids)s) are named by id only: give "
                    "the billing account an API secret key to read what it is worth",
                    ids=", ".join(missing),
                )
            ]
        # the coupons of its discounts are asked for with the prices, or for themselves
        if missing or (account.api_key and stripe_adapter.phase_discounts(phase)):
            fetched = stripe_adapter.fetch_schedule(
                account.api_key,
                schedule.get("id"),
                account.stripe_api_version or STRIPE_API_VERSION,
            )
            phase = stripe_adapter.next_phase(fetched, phase["start_date"] - 1)
            if not phase or stripe_adapter.phase_prices_missing(phase):
                return None, [
                    self.env._("Stripe's API did not give the prices of the scheduled plan")
                ]
        code = (phase.get("currency") or schedule.get("currency") or currency.name).upper()
        if code != currency.name:
            return None, [
                self.env._(
                    "The scheduled plan is billed in %(code)s, the subscription in %(currency)s",
                    code=code,
                    currency=currency.name,
                )
            ]
        obj = stripe_adapter.phase_subscription(phase, code)
        notes = []
        unread = stripe_adapter.phase_discounts(phase)
        if unread:
            notes.append(
                self.env._(
                    "Discounts of the scheduled plan not counted: %(ids)s", ids=", ".join(unread)
                )
            )
        return stripe_adapter.subscription_mrr(obj), notes

    @staticmethod
    def _cancellation_summary(partner):
        return lambda env: env._("Cancellation scheduled: %(customer)s", customer=partner.name)

    def _cancellation_todo(self, subscription, obj, period_end):
        """The CSM's to-do for a cancellation the customer scheduled: at the end of the
        paid period (``cancel_at_period_end``) or on a day of their own (``cancel_at``)."""
        partner = subscription.commercial_partner_id
        if obj.get("cancel_at_period_end") or not obj.get("cancel_at"):

            def note(env):
                return env._(
                    "%(customer)s scheduled the cancellation of the subscription at the end "
                    "of the paid period (%(date)s). Talk to them before it ends.",
                    customer=partner.name,
                    date=tools.format_date(env, period_end) if period_end else "-",
                )
        else:
            cancel_on = self._provider_date(obj["cancel_at"])

            def note(env):
                return env._(
                    "%(customer)s's subscription is set to be cancelled on %(date)s. Talk to "
                    "them before then.",
                    customer=partner.name,
                    date=tools.format_date(env, cancel_on),
                )

        return (subscription, self._cancellation_summary(partner), note, 0)

    def _cancellation_todos(self, subscription):
        """The open to-dos of a scheduled cancellation of ``subscription``."""
        return self._csm_todos(
            subscription, self._cancellation_summary(subscription.commercial_partner_id)
        )

    def _stripe_subscription_vals(self, subscription, obj, previous=None):
        """The subscription's values for the provider state ``obj`` (``previous``: the
        event's ``previous_attributes``), and its period end."""
        status = obj.get("status")
        item = ((obj.get("items") or {}).get("data") or [{}])[0]
        period_end = self._provider_date(
            item.get("current_period_end") or obj.get("current_period_end")
        )
        # A grace period: the subscription stays active, Stripe collects nothing.
        pause_collection = obj.get("pause_collection")
        if not isinstance(pause_collection, dict):
            pause_collection = {}
        pause_behavior = pause_collection.get("behavior")
        vals = {
            "cs_billing_synced_at": self.event_created,
            # Stripe gave up collecting: delinquent churn until paid again.
            "cs_delinquent": status == "unpaid",
            # at the period's end, or on a day of its own (cancel_at)
            "cs_cancel_scheduled": bool(obj.get("cancel_at_period_end") or obj.get("cancel_at")),
            "cs_is_trial": status == "trialing",
            "cs_paused": status == "paused",
            "cs_collection_paused": bool(pause_behavior),
            "cs_collection_pause_behavior": (
                pause_behavior if pause_behavior in self._PAUSE_BEHAVIORS else False
            ),
            # since the event that paused it: invoices of the pause are no failures
            "cs_collection_paused_since": (
                (subscription.cs_collection_paused_since or self.event_created)
                if pause_behavior
                else False
            ),
            "cs_collection_resumes_on": (
                self._provider_date(pause_collection.get("resumes_at")) if pause_behavior else False
            ),
            "cs_trial_end_date": (
                self._provider_date(obj.get("trial_end")) if status == "trialing" else False
            ),
            "seats": (
                subscription.seats  # the quantities of the items not listed are unknown
                if stripe_adapter.items_truncated(obj)
                else stripe_adapter.seats(obj, previous, subscription.seats)
            ),
        }
        # The payment status Stripe's subscription status tells, unless a newer payment
        # event was applied (a late "active" must not hide a failure that followed it).
        if status in stripe_adapter.PAYMENT_STATUS and not self._is_stale(
            subscription.cs_payment_synced_at
        ):
            vals["payment_status"] = stripe_adapter.PAYMENT_STATUS[status]
            vals["cs_payment_synced_at"] = self.event_created
        if period_end:
            vals["next_payment_date"] = period_end
            if subscription.renewal_type == "auto":
                vals["renewal_date"] = period_end
        # The plan Stripe bills, when the admin mapped it: the card shows the new plan.
        plan = subscription._cs_provider_plan(stripe_adapter.plan_refs(obj))
        if plan and plan != subscription.template_id:
            vals["template_id"] = plan.id
            # A flat-priced plan brings the seats it includes.
            if plan.cs_seats and stripe_adapter.subscription_quantity(obj) <= 1:
                vals["seats"] = plan.cs_seats
        # A tiered price whose tiers could not be read, items not all listed: the MRR
        # is unknown, not what the rest adds up to.
        unknown = status not in stripe_adapter.NO_MRR_STATUSES and bool(
            stripe_adapter.prices_without_tiers(obj) or stripe_adapter.items_truncated(obj)
        )
        commands = not unknown and subscription._cs_recurring_amount_commands(
            stripe_adapter.subscription_mrr(obj),
            obj.get("currency"),
            self._provider_name(),
            plan=plan or None,
        )
        if commands:
            vals["sale_subscription_line_ids"] = commands
        return vals, period_end

    _PAUSE_BEHAVIORS = {
        "void": lambda env: env._("its invoices are voided: this time is free"),
        "mark_uncollectible": lambda env: env._(
            "its invoices are marked uncollectible: this time is free"
        ),
        "keep_as_draft": lambda env: env._(
            "its invoices are kept as drafts, to be collected when it resumes"
        ),
    }

    def _pause_terms(self, obj, env):
        """What a paused collection does with the invoices, and until when, in ``env``'s
        language."""
        pause = obj.get("pause_collection") or {}
        behavior = self._PAUSE_BEHAVIORS.get(pause.get("behavior"))
        terms = (
            behavior(env)
            if behavior
            else env._("its invoices: %(behavior)s", behavior=pause.get("behavior"))
        )
        return terms, self._paused_until(env, self._provider_date(pause.get("resumes_at")))

    @staticmethod
    def _paused_until(env, resumes):
        """Until when payment collection is paused, in ``env``'s language."""
        if resumes:
            return env._("until %(date)s", date=tools.format_date(env, resumes))
        return env._("until it is resumed")

    def _free_by_the_pause(self, subscription, obj):
        """Whether this ``invoice.marked_uncollectible`` is Stripe doing what a collection
        paused with ``mark_uncollectible`` does to every invoice made during the pause
        (the time is free), not a debt written off: an invoice created since the pause."""
        if self.event_type != "invoice.marked_uncollectible":
            return False
        since = subscription.cs_collection_paused_since
        created = obj.get("created")
        return bool(
            subscription.cs_collection_paused
            and subscription.cs_collection_pause_behavior == "mark_uncollectible"
            and since
            and isinstance(created, int)
            and datetime.utcfromtimestamp(created) >= since
        )

    def _collection_paused_todo(self, subscription, obj):
        partner = subscription.commercial_partner_id

        def note(env):
            terms, until = self._pause_terms(obj, env)
            return env._(
                "Payment collection of %(customer)s's subscription is paused at Stripe "
                "%(until)s; %(terms)s. The customer keeps the service and the MRR counts. "
                "Agree what happens when it resumes.",
                customer=partner.name,
                until=until,
                terms=terms,
            )

        return (
            subscription,
            lambda env: env._("Payment collection paused: %(customer)s", customer=partner.name),
            note,
            0,
        )

    def _collection_paused_note(self, subscription, obj):
        terms, until = self._pause_terms(obj, self.env)
        return self.env._(
            "Payment collection paused %(until)s; %(terms)s", until=until, terms=terms
        )

    def _stripe_written_off(self, subscription):
        """Whether the newest payment event applied to ``subscription`` is Stripe marking
        its invoice uncollectible (which makes a past_due subscription active again)."""
        newest = self._stripe_payment_events(subscription, limit=1)
        return bool(newest and newest[0][1] == "invoice.marked_uncollectible")

    def _stripe_payment_events(self, subscription, limit=None):
        """``(id, type)`` of the payment events applied to ``subscription``, this one
        aside, newest first: the order that tells its payment state."""
        self.flush_model(["state", "subscription_id", "event_type", "event_created"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id, event_type FROM cs_billing_event
                 WHERE subscription_id = %(sub)s AND state = 'processed' AND id != %(id)s
                   AND event_type = ANY(%(types)s)
              ORDER BY event_created DESC, id DESC
                 LIMIT %(limit)s
                """,
                sub=subscription.id,
                id=self.id,
                types=list(self._PAYMENT_STATE_TYPES),
                limit=limit,
            )
        )
        return self.env.cr.fetchall()

    def _stripe_late_write_off(self, subscription):
        """Whether this ``invoice.marked_uncollectible`` is older than the payment state
        applied, and that state is the subscription's return to active it caused:
        Stripe makes a past_due subscription active once its invoice is written off, and
        if that state arrives first the subscription reads paid. A payment applied since
        (``invoice.paid`` of the same time or newer) is a real payment: then not."""
        if self.event_type != "invoice.marked_uncollectible":
            return False
        if not self._is_stale(subscription.cs_payment_synced_at):
            return False
        if subscription.payment_status != "paid":
            return False
        self.flush_model(["state", "subscription_id", "event_type", "event_created"])
        self.env.cr.execute(
            SQL(
                """
                SELECT 1 FROM cs_billing_event
                 WHERE subscription_id = %(sub)s AND state = 'processed' AND id != %(id)s
                   AND event_type = 'invoice.paid' AND event_created >= %(created)s
                 LIMIT 1
                """,
                sub=subscription.id,
                id=self.id,
                created=self.event_created,
            )
        )
        return not self.env.cr.fetchone()

    def _plan_note(self, subscription, old_plan):
        """'Plan: A → B' when the subscription changed plan, else None."""
        if subscription.template_id == old_plan:
            return None
        return self.env._(
            "Plan: %(old)s → %(new)s",
            old=old_plan.display_name or "-",
            new=subscription.template_id.display_name,
        )

    def _stripe_note(self, result):
        return Markup("<p>%s</p>") % self.env._(
            "Stripe %(type)s: %(result)s", type=self.event_type, result=result
        )

    # ------------------------------------------------------------------
    # Batch: the bulk of Stripe traffic in a few statements
    # ------------------------------------------------------------------
    def _apply_stripe_batch(self):
        """Apply together the events that only move the price, quantity or period of
        a running, paid subscription (``customer.subscription.created/updated`` with
        status active); return them.

        The effects are those of :meth:`_stripe_subscription` for that case — one
        write per subscription, recomputed and flushed once for the batch, one ledger
        sync per event day, to-dos and chatter notes created together. Anything
        else goes one by one: status changes, trials, cancellations, invoices, and
        every event of a subscription that has another event in this batch or still
        waiting in the inbox (order and supersession matter there).
        """
        parsed = {event: event._data() for event in self}
        objects = {
            event: (data.get("data") or {}).get("object") or {} for event, data in parsed.items()
        }
        previous = {
            event: (data.get("data") or {}).get("previous_attributes") or {}
            for event, data in parsed.items()
        }
        refs = {event: stripe_adapter.subscription_ref(obj) for event, obj in objects.items()}
        Sub = self.env["sale.subscription"]
        found = Sub.search(
            [
                ("billing_account_id", "in", self.account_id.ids),
                ("external_subscription_ref", "in", [r for r in refs.values() if r]),
            ]
        )
        by_ref = {(s.billing_account_id.id, s.external_subscription_ref): s for s in found}
        subs = {
            event: event.subscription_id or by_ref.get((event.account_id.id, refs[event]), Sub)
            for event in self
        }
        waiting, newer = self._stripe_waiting_states({r for r in refs.values() if r})
        superseded = self._stripe_supersede(subs, objects, newer)
        seen = Counter(sub.id for event, sub in subs.items() if sub and event not in superseded)
        batch = []
        for event in self - superseded:
            sub, obj = subs[event], objects[event]
            if (
                event.event_type in self._SUPERSEDABLE_TYPES
                and not stripe_adapter.wrong_object(event.event_type, obj)
                and obj.get("status") == "active"
                and not obj.get("cancel_at_period_end")
                and not obj.get("cancel_at")
                and previous[event].get("status") in (None, "active")
                and sub
                and seen[sub.id] == 1
                and (event.account_id.id, refs[event]) not in waiting
                and sub.stage_id.type == "in_progress"
                and not (
                    sub.cs_is_trial or sub.cs_delinquent or sub.cs_paused or sub.cs_cancel_scheduled
                )
                # a plan change scheduled that takes effect closes its to-dos one by one
                and not sub.cs_scheduled_change_date
                # a grace period starting or ending is told one by one
                and not sub.cs_collection_paused
                and not obj.get("pause_collection")
                # paid again after a failure: its payment to-dos close one by one
                and sub.payment_status not in OWING
                # discounts named by id and tiers are read from Stripe's API one by one
                and not stripe_adapter.discount_ids(obj)
                and not stripe_adapter.prices_without_tiers(obj)
                and not stripe_adapter.items_truncated(obj)
                and not event._is_stale(sub.cs_billing_synced_at)
            ):
                batch.append((event, sub, obj))
        if not batch:
            return superseded
        old_mrr = {sub: sub.mrr for _event, sub, _obj in batch}
        old_plan = {sub: sub.template_id for _event, sub, _obj in batch}
        tracked = set(Sub._track_get_fields())
        for event, sub, obj in batch:
            vals, _period_end = event._stripe_subscription_vals(sub, obj, previous[event])
            customer = stripe_adapter.customer_ref(obj)
            if customer and not sub.external_customer_ref:
                vals["external_customer_ref"] = customer
            # Only what changes: fewer recomputations, and no tracking pass when no
            # tracked field (the payment status) moves.
            vals = {
                name: value
                for name, value in vals.items()
                if sub._fields[name].type == "one2many"
                or sub._fields[name].convert_to_record(
                    sub._fields[name].convert_to_cache(value, sub), sub
                )
                != sub[name]
            }
            sub.with_context(cs_skip_ledger=True, mail_notrack=not tracked & set(vals)).write(vals)
        # No flush here: the ledger's first read of an MRR computes the lines, totals and
        # MRR of the whole batch at once, and the chunk's commit writes each row once.
        by_day = defaultdict(lambda: Sub)
        for event, sub, _obj in batch:
            by_day[event._event_date()] |= sub
        for day, day_subs in by_day.items():
            day_subs.with_context(
                cs_movement_date=day, cs_movement_source="stripe", cs_churn_kind="delinquent"
            )._cs_sync_ledger()
        todos, notes = [], {}
        now = fields.Datetime.now()
        for event, sub, _obj in batch:
            event_todos, messages = event._mrr_change(sub, old_mrr[sub])
            plan_note = event._plan_note(sub, old_plan[sub])
            if plan_note:
                messages.insert(0, plan_note)
            todos += event_todos
            result = "; ".join(messages) or self.env._("Subscription synced")
            notes[sub.id] = event._stripe_note(result)
            event.write(
                {
                    "subscription_id": sub.id,
                    "partner_id": sub.commercial_partner_id.id,
                    "state": "processed",
                    "result": result,
                    "error": False,
                    "processed_at": now,
                }
            )
        self._schedule_many(todos)
        Sub.browse(list(notes))._message_log_batch(bodies=notes)
        return superseded | self.browse([event.id for event, _sub, _obj in batch])

    def _superseded_result(self, newer):
        return self.env._("Superseded by %(event)s, a newer state of the same day.", event=newer)

    def _stripe_waiting_states(self, refs):
        """What waits in the inbox for these provider objects, in one query: the
        (account, provider object) pairs with an event outside this batch, and per pair
        the subscription states waiting, this batch's included, as
        ``(provider time, status, event id)``."""
        if not refs:
            return set(), {}
        self.env.cr.execute(
            SQL(
                """
                SELECT id, external_id, event_type, account_id, object_ref, event_created,
                       object_status
                  FROM cs_billing_event
                 WHERE object_ref = ANY(%(refs)s) AND account_id = ANY(%(accounts)s)
                   AND state = 'received'
                """,
                refs=list(refs),
                accounts=self.account_id.ids,
            )
        )
        mine = set(self.ids)
        waiting, newer = set(), defaultdict(list)
        types = set(self._SUPERSEDABLE_TYPES)
        for event_id, external_id, kind, account_id, ref, created, status in self.env.cr.fetchall():
            if event_id not in mine:
                waiting.add((account_id, ref))
            if kind in types and created:
                newer[account_id, ref].append((created, status or "", external_id))
        return waiting, newer

    def _stripe_supersede(self, subs, objects, newer):
        """The events of this batch that a newer state of the same provider object, of the
        same day and status, still waiting in the inbox supersedes (what
        :meth:`_superseded_by` finds one by one), marked so together; return them."""
        superseded = {}
        for event, sub in subs.items():
            status = objects[event].get("status") or ""
            if (
                not sub
                or event.event_type not in self._SUPERSEDABLE_TYPES
                or not event.object_ref
                or not event.event_created
                or status == "canceled"
                or event._is_stale(sub.cs_billing_synced_at)
            ):
                continue
            day_end = event._day_end()
            later = [
                (created, external_id)
                for created, other_status, external_id in newer.get(
                    (event.account_id.id, event.object_ref), ()
                )
                if event.event_created < created < day_end and other_status == status
            ]
            if later:
                superseded[event] = (sub, max(later)[1])
        now = fields.Datetime.now()
        for event, (sub, by) in superseded.items():
            customer = stripe_adapter.customer_ref(objects[event])
            if customer and not sub.external_customer_ref:
                sub.external_customer_ref = customer
            event.write(
                {
                    "subscription_id": sub.id,
                    "partner_id": sub.commercial_partner_id.id,
                    "state": "ignored",
                    "result": self._superseded_result(by),
                    "error": False,
                    "processed_at": now,
                }
            )
        return self.browse([event.id for event in superseded])

    def _stripe_cancel(self, subscription, obj, vals):
        details = obj.get("cancellation_details") or {}
        # The to-do to talk to them before it ends is moot: the exit interview follows.
        scheduled = self._cancellation_todos(subscription)
        state, result = self._effect_cancelled(
            subscription,
            details.get("feedback") or details.get("reason") or "",
            comment=details.get("comment") or "",
            vals=vals,
        )
        self._done_by_itself(scheduled, result)
        return state, result

    def _stripe_one_off_invoice(self, obj):
        """An invoice of no subscription (a setup fee, a day of consulting): no
        subscription's status, MRR or dunning is about it, so nobody is asked to link
        it to one. Its payment is money all the same: it waits in *Payments to
        Reconcile* with its customer, when the Stripe customer is one of a
        subscription here."""
        number = obj.get("number") or obj.get("id") or "-"
        code = (obj.get("currency") or "").upper()
        amount = to_major(_minor(obj.get("amount_paid")), code)
        account = self.account_id
        currency = self._find_currency(code, account.currency_id or account.company_id.currency_id)
        if self.event_type != "invoice.paid":
            return "ignored", self.env._(
                "Invoice %(number)s is of no subscription: Customer Success does not follow it.",
                number=number,
            )
        if obj.get("paid_out_of_band") is True or currency.is_zero(amount):
            return "ignored", self.env._(
                "Invoice %(number)s, of no subscription, paid with no money through Stripe: "
                "nothing to reconcile.",
                number=number,
            )
        customer = stripe_adapter.customer_ref(obj)
        partner = (
            self.env["sale.subscription"]
            .search(
                [("billing_account_id", "=", account.id), ("external_customer_ref", "=", customer)]
            )
            .commercial_partner_id
            if customer
            else self.env["res.partner"]
        )
        self.write(
            {
                "partner_id": partner.id if len(partner) == 1 else False,
                "amount": amount,
                "currency_id": currency.id,
                "to_reconcile": True,
            }
        )
        return "processed", self.env._(
            "Invoice %(number)s, of no subscription, paid: %(amount)s %(currency)s — to reconcile",
            number=number,
            amount=self._money(amount, currency),
            currency=currency.name,
        )

    # ------------------------------------------------------------------
    def _stripe_invoice(self, subscription, obj):
        if self.event_type == "invoice.paid":
            code = (obj.get("currency") or "").upper()
            currency = self._find_currency(code, subscription.currency_id)
            line = ((obj.get("lines") or {}).get("data") or [{}])[0]
            attempts = obj.get("attempt_count")
            # Marked paid by hand at Stripe: paid another way (a bank transfer, cash).
            elsewhere = obj.get("paid_out_of_band") is True
            paid = _minor(obj.get("amount_paid"))
            if elsewhere and not paid:
                paid = _minor(obj.get("amount_due")) or _minor(obj.get("total"))
            return self._effect_payment_succeeded(
                subscription,
                to_major(paid, code),
                currency,
                obj.get("number") or obj.get("id"),
                self._provider_date((line.get("period") or {}).get("end") or obj.get("period_end")),
                # paid at a later attempt: revenue won back, whichever of this event and
                # the subscription's return to active is applied first
                recovered=isinstance(attempts, int) and attempts > 1,
                elsewhere=elsewhere,
            )
        # invoice.payment_failed / invoice.marked_uncollectible
        amount, currency = self._stripe_unpaid(obj, subscription)
        if self._free_by_the_pause(subscription, obj):
            result = self._free_invoice_result(obj, amount, currency)
            subscription._message_log(body=self._stripe_note(result))
            return "processed", result
        if self._stripe_late_write_off(subscription):
            state, result = self._stripe_late_write_off_effect(subscription, amount, currency)
        else:
            state, result = self._stripe_payment_failed(subscription, obj, amount, currency)
        if self.event_type == "invoice.marked_uncollectible" and state == "processed":
            # a debt written off, until a pause with free invoices says otherwise
            self.counted_as_debt = True
        return state, result

    def _stripe_late_write_off_effect(self, subscription, amount, currency):
        """Stripe wrote the debt off, then made the subscription active again, and that
        state came first: it looked paid. It is not: the failure is back."""
        state, result = self._effect_payment_failed(
            subscription,
            amount,
            currency,
            lambda env: env._("Stripe marked the invoice uncollectible"),
            notify=False,
            advice=lambda env: env._(
                "Stripe no longer collects it: agree with the customer how the debt is settled."
            ),
            explains_newer=True,
        )
        result = self.env._(
            "Stripe marked the unpaid invoice uncollectible: %(amount)s %(currency)s "
            "written off, not paid (the subscription's return to active was no payment)",
            amount=self._money(amount, currency),
            currency=currency.name,
        )
        subscription._message_log(body=self._stripe_note(result))
        return state, result

    def _stripe_payment_failed(self, subscription, obj, amount, currency):
        """B4 "payment failed" for Stripe's invoice ``obj``. A grace period agreed with
        the customer: Stripe still retries the invoices of before, but the client gets
        no dunning email; the CSM settles it with them."""
        grace = subscription.cs_collection_paused
        resumes = subscription.cs_collection_resumes_on
        state, result = self._effect_payment_failed(
            subscription,
            amount,
            currency,
            lambda env: env._("Stripe, attempt %(attempt)s", attempt=obj.get("attempt_count") or 1),
            next_attempt=self._provider_date(obj.get("next_payment_attempt")),
            notify=self.event_type == "invoice.payment_failed" and not grace,
            advice=(
                lambda env: env._(
                    "Payment collection is paused (%(until)s), so the customer got no email: "
                    "agree with them how this invoice is settled.",
                    until=self._paused_until(env, resumes),
                )
            )
            if grace
            else None,
            # Stripe's hosted page of the invoice: the client pays it there, any card.
            pay_url=obj.get("hosted_invoice_url")
            if isinstance(obj.get("hosted_invoice_url"), str)
            else None,
        )
        if grace and state == "processed":
            result = self.env._(
                "%(result)s; no email to the client: payment collection is paused", result=result
            )
        return state, result

    def _free_invoice_result(self, obj, amount, currency):
        return self.env._(
            "Invoice %(invoice)s of %(amount)s %(currency)s marked uncollectible by the "
            "paused collection: this time is free, nothing is due",
            invoice=obj.get("number") or obj.get("id") or "-",
            amount=self._money(amount, currency),
            currency=currency.name,
        )

    def _stripe_object(self):
        """The Stripe object this event carries (``data.object``)."""
        return (self._data().get("data") or {}).get("object") or {}

    def _stripe_unpaid(self, invoice, subscription):
        """What Stripe's ``invoice`` leaves unpaid, and its currency."""
        code = (invoice.get("currency") or "").upper()
        amount = to_major(invoice.get("amount_remaining", invoice.get("amount_due")), code)
        return amount, self._find_currency(code, subscription.currency_id)

    def _stripe_free_earlier_write_offs(self, subscription):
        """Re-read as free the invoices of a collection pause with ``mark_uncollectible``
        that were counted as debts because Stripe's event marking them uncollectible was
        applied before the event of the pause itself (Stripe keeps no order between
        events). The subscription owes nothing any more unless a failure of its own
        stands (then it owes that failure's amount). Returns the chatter messages."""
        if subscription.cs_collection_pause_behavior != "mark_uncollectible":
            return []
        debts = self.search(
            [
                ("subscription_id", "=", subscription.id),
                ("state", "=", "processed"),
                ("event_type", "=", "invoice.marked_uncollectible"),
                ("counted_as_debt", "=", True),
            ]
        )
        freed, invoices = self.browse(), []
        for debt in debts:
            obj = debt._stripe_object()
            if not debt._free_by_the_pause(subscription, obj):
                continue  # an invoice of before the pause: a debt written off
            freed |= debt
            invoices.append(obj.get("number") or obj.get("id") or "-")
            amount, currency = debt._stripe_unpaid(obj, subscription)
            debt.write(
                {
                    "counted_as_debt": False,
                    "result": debt._free_invoice_result(obj, amount, currency),
                }
            )
        if not freed:
            return []
        note = self.env._(
            "Invoices %(invoices)s are of the paused collection: free, not debts written off",
            invoices=", ".join(invoices),
        )
        if subscription.payment_status not in OWING:
            return [note]
        standing = self._stripe_standing_failure(subscription, freed)
        if standing:
            amount = standing._stripe_unpaid(standing._stripe_object(), subscription)[0]
            subscription.write({"amount_due": amount})
        else:
            subscription.write({"payment_status": "paid", "amount_due": 0.0})
            self._close_payment_issues(subscription, note)
        return [note]

    def _stripe_standing_failure(self, subscription, freed):
        """The newest payment failure of ``subscription`` applied since its last payment
        that is not one of the ``freed`` invoices, if any."""
        for event_id, event_type in self._stripe_payment_events(subscription):
            if event_type == "invoice.paid":
                break
            if event_id not in freed._ids:
                return self.browse(event_id)
        return self.browse()


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
    cs_scheduled_change_date = fields.Date(
        string="Plan Change Scheduled On",
        readonly=True,
        copy=False,
        help="Stripe: the day a change of plan set in a subscription schedule takes effect "
        "(its next phase); empty once it took effect or the schedule was cancelled.",
    )
    cs_payment_synced_at = fields.Datetime(
        string="Provider Payment Time", readonly=True, copy=False
    )
    cs_collection_paused = fields.Boolean(
        string="Collection Paused",
        readonly=True,
        copy=False,
        help="Stripe collects no payment for now (a grace period): the subscription "
        "stays active, the customer keeps the service and its MRR counts.",
    )
    cs_collection_pause_behavior = fields.Selection(
        [
            ("keep_as_draft", "Invoices kept as drafts"),
            ("mark_uncollectible", "Invoices marked uncollectible (free)"),
            ("void", "Invoices voided (free)"),
        ],
        string="Invoices While Paused",
        readonly=True,
        copy=False,
        help="What Stripe does with the invoices made while collection is paused.",
    )
    cs_collection_paused_since = fields.Datetime(
        string="Collection Paused Since",
        readonly=True,
        copy=False,
        help="Provider time of the event that paused payment collection.",
    )
    cs_collection_resumes_on = fields.Date(
        string="Collection Resumes On",
        readonly=True,
        copy=False,
        help="When Stripe collects payment again; empty: when someone resumes it.",
    )

    @api.model
    def _cs_end_lapsed_collection_pauses(self, today=None):
        """Clear the payment-collection pauses whose resume date has passed.

        Stripe resumes collection by itself at ``resumes_at`` and says so with a
        ``customer.subscription.updated``; should that event never arrive, the
        subscription would read paused for good (no dunning email on a failed retry,
        uncollectible invoices read as free). A day after the resume date the pause is
        over here too, with a note saying why; Stripe's next event brings its own
        state as always. Set-based: one search, one write, notes written together."""
        today = today or fields.Date.context_today(self)
        lapsed = self.search(
            [
                ("cs_collection_paused", "=", True),
                ("cs_collection_resumes_on", "!=", False),
                ("cs_collection_resumes_on", "<", today),
            ]
        )
        if not lapsed:
            return lapsed
        notes = {
            sub.id: Markup("<p>%s</p>")
            % self.env._(
                "Payment collection resumed on %(date)s, the date Stripe was given for it "
                "(no event from Stripe has said so yet)",
                date=tools.format_date(self.env, sub.cs_collection_resumes_on),
            )
            for sub in lapsed
        }
        lapsed.write(
            {
                "cs_collection_paused": False,
                "cs_collection_pause_behavior": False,
                "cs_collection_paused_since": False,
                "cs_collection_resumes_on": False,
            }
        )
        lapsed._message_log_batch(bodies=notes)
        return lapsed

    def _cs_provider_plan(self, refs):
        """The plan (subscription template) mapped to the first of the provider's plan
        ids ``refs`` that has one, else an empty recordset."""
        by_ref = self.env["sale.subscription.template"]._cs_plan_ids_by_ref()
        for ref in refs:
            if ref in by_ref:
                return self.env["sale.subscription.template"].browse(by_ref[ref])
        return self.env["sale.subscription.template"]

    def _cs_recurring_amount_commands(self, mrr, currency_code=None, provider=None, plan=None):
        """Line commands making the subscription bill ``mrr`` a month, or [] if it does.

        Provider-run subscriptions keep one recurring line priced from the
        provider. No MRR from the provider (trial, paused, unpaid) keeps the
        contract price: the trial flag or the payment status tells the rest.

        :param currency_code: the provider's currency of ``mrr``; another currency
            than the subscription's is refused (no silent conversion of revenue).
        :param plan: the plan the subscription moves to, if it does: the line is
            priced for that plan's billing period.
        """
        self.ensure_one()
        lines = self.sale_subscription_line_ids
        if not mrr or not lines:
            return []
        code = (currency_code or "").upper()
        if code and code != self.currency_id.name:
            raise UserError(
                self.env._(
                    "%(provider)s bills %(subscription)s in %(theirs)s, Odoo in %(ours)s: "
                    "give the subscription a pricelist in %(theirs)s, then reprocess the event.",
                    provider=provider or "-",
                    subscription=self.display_name,
                    theirs=code,
                    ours=self.currency_id.name,
                )
            )
        months = mrr_service.months_in_period(
            self.template_id.recurring_rule_type, self.template_id.recurring_interval
        )
        current = sum(lines.mapped("price_subtotal")) / months
        plan = plan or self.template_id
        if plan == self.template_id and self.currency_id.compare_amounts(current, mrr) == 0:
            return []
        months = mrr_service.months_in_period(plan.recurring_rule_type, plan.recurring_interval)
        first = lines[0]
        quantity = first.product_uom_qty or 1.0
        commands = [(1, first.id, {"price_unit": mrr * months / quantity, "discount": 0.0})]
        return commands + [(2, line.id) for line in lines[1:]]


class CsBillingAccountStripe(models.Model):
    _inherit = "cs.billing.account"

    def action_stripe_check_endpoint(self):
        """Ask Stripe how it sends this account's events: whether an endpoint sends to
        its Webhook URL, enabled, with every event type the addon uses, in the pinned
        API version. What is found is posted on the account and shown."""
        self.ensure_one()
        if not self.env.user.has_group("customer_success.group_cs_manager"):
            raise AccessError(
                self.env._("Only Customer Success managers check a billing account at Stripe.")
            )
        account = self.sudo()
        if account.provider != "stripe":
            raise UserError(self.env._("Only a Stripe account is checked at Stripe."))
        if not account.api_key:
            raise UserError(
                self.env._(
                    "Checking at Stripe needs the account's API Secret Key (a restricted key "
                    "with Webhook Endpoints: read and Events: read is enough); an administrator "
                    "enters it."
                )
            )
        try:
            problems = account._stripe_endpoint_problems()
        except stripe_adapter.ApiError as exc:
            raise UserError(str(exc)) from exc
        if problems:
            message = " ".join(problems)
        else:
            message = self.env._(
                "Stripe sends this account's events to %(url)s: the endpoint is enabled and "
                "sends every event type the addon uses.",
                url=account.webhook_url,
            )
        return account._cs_told(
            self.env._("Checked at Stripe"),
            message,
            kind="warning" if problems else "success",
            sticky=bool(problems),
        )

    def _stripe_endpoint_problems(self):
        """What is wrong with how Stripe sends this account's events, as sentences in
        the language of the environment; none when all is well.

        :raises ApiError: Stripe could not be reached or refused the request
        """
        self.ensure_one()
        account = self.sudo()
        pinned = account.stripe_api_version or STRIPE_API_VERSION
        endpoints = stripe_adapter.webhook_endpoints(account.api_key, pinned)
        found = stripe_adapter.check_endpoints(endpoints, account.webhook_url, pinned)
        problems = []
        if not found["endpoint"]:
            problems.append(
                self.env._(
                    "No webhook endpoint at Stripe sends to %(url)s. In Stripe's dashboard "
                    "(Developers → Webhooks), add one with that URL, API version %(version)s and "
                    "the events the README lists, then paste its signing secret here.",
                    url=account.webhook_url,
                    version=pinned,
                )
            )
            if found["elsewhere"]:
                problems.append(
                    self.env._(
                        "Endpoints send this account's events to another address: %(urls)s. "
                        "Did Odoo's address change? Point one of them to the Webhook URL.",
                        urls=", ".join(found["elsewhere"]),
                    )
                )
        else:
            if found["disabled"]:
                problems.append(
                    self.env._(
                        "The endpoint is disabled at Stripe (Stripe disables one whose "
                        "deliveries kept failing): enable it in Developers → Webhooks."
                    )
                )
            if found["missing"]:
                problems.append(
                    self.env._(
                        "Event types the addon uses that it does not send (%(count)s): "
                        "%(types)s. Add them to the endpoint.",
                        count=len(found["missing"]),
                        types=", ".join(found["missing"]),
                    )
                )
            if found["version"]:
                problems.append(
                    self.env._(
                        "It sends events in API version %(sent)s, and this account is pinned to "
                        "%(pinned)s: add the endpoint again with the pinned version and paste "
                        "its new signing secret here.",
                        sent=found["version"],
                        pinned=pinned,
                    )
                )
        problems += account._stripe_undelivered_problems(pinned)
        return problems

    UNDELIVERED_DAYS = 3  # days of Stripe's undelivered events looked at

    def _stripe_undelivered_problems(self, pinned):
        """Events Stripe could not deliver lately that this inbox does not have: the
        signing secret stored here is not the endpoint's, or the allow-list refuses
        Stripe (requests refused here store nothing, only a log line)."""
        since = fields.Datetime.now() - timedelta(days=self.UNDELIVERED_DAYS)
        try:
            events, more = stripe_adapter.undelivered_events(
                self.api_key, pinned, since.replace(tzinfo=timezone.utc).timestamp()
            )
        except stripe_adapter.ApiError as exc:
            return [str(exc) + "."]
        ids = [e.get("id") for e in events if isinstance(e.get("id"), str)]
        here = set(
            self.env["cs.billing.event"]
            .sudo()
            .search([("account_id", "=", self.id), ("external_id", "in", ids)])
            .mapped("external_id")
        )
        missing = [event_id for event_id in ids if event_id not in here]
        if not missing:
            return []
        return [
            self.env._(
                "Events Stripe could not deliver in the last %(days)s days that this account "
                "never received: %(count)s (%(sample)s). If Stripe's dashboard shows them "
                "refused here, the signing secret stored here is not the endpoint's, or the "
                "allow-list refuses Stripe's addresses.",
                count=("%d+" % len(missing)) if more else len(missing),
                days=self.UNDELIVERED_DAYS,
                sample=", ".join(missing[:3]),
            )
        ]

    def _cs_unheard_diagnosis(self):
        """Stripe's word on the endpoint, for the to-do about renewals unheard of (the
        account has an API key): what is wrong with it, else nothing."""
        if self.provider != "stripe" or not self.sudo().api_key:
            return super()._cs_unheard_diagnosis()
        try:
            problems = self._stripe_endpoint_problems()
        except Exception as exc:  # noqa: BLE001 - reads only; the to-do goes without it
            _logger.info("Stripe not asked about account %s's endpoint: %s", self.id, exc)
            return super()._cs_unheard_diagnosis()
        if not problems:
            return super()._cs_unheard_diagnosis()
        return self.env._("Stripe says: %(problems)s", problems=" ".join(problems))
