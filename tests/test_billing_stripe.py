# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import copy
import json
import threading
import time
from contextlib import closing
from datetime import date
from datetime import datetime
from datetime import timedelta
from unittest.mock import call
from unittest.mock import patch

import requests
import stripe
from freezegun import freeze_time
from lxml import etree

from odoo import SUPERUSER_ID
from odoo import api
from odoo import fields
from odoo import sql_db
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tests import Form
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from ..models import cs_billing_event
from ..services.providers import stripe_adapter
from ..services.providers.common import AuthenticityError
from ..services.providers.common import BillingEvent
from ..services.providers.common import PayloadError
from .common import CustomerSuccessMixin
from .common import load_migration

SECRET = "whsec_test_secret"
SUB_REF = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
CUS_REF = "cus_QXg1o8vcGmoR32"


def stripe_subscription(
    status="active",
    unit_amount=10000,
    quantity=1,
    interval="month",
    interval_count=1,
    discounts=None,
    cancel_at_period_end=False,
    currency="usd",
    period_end=1798761600,
):
    # Shaped as Stripe's subscription object (API 2025-03-31.basil), values explicit.
    obj = {"created": 1780000000, "collection_method": "charge_automatically", "metadata": {}}
    price = {
        "id": "price_pro",
        "object": "price",
        "currency": currency,
        "unit_amount": unit_amount,
        "recurring": {
            "interval": interval,
            "interval_count": interval_count,
            "usage_type": "licensed",
        },
    }
    obj.update(
        {
            "id": SUB_REF,
            "object": "subscription",
            "customer": CUS_REF,
            "currency": currency,
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "discounts": discounts or [],
            "trial_end": 1797000000 if status == "trialing" else None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_1",
                        "object": "subscription_item",
                        "price": price,
                        "quantity": quantity,
                        "discounts": [],
                        "current_period_end": period_end,
                    }
                ],
            },
        }
    )
    return obj


def with_add_ons(obj, count, listed=None):
    """``obj`` with ``count`` add-on items of 10.00 a month after its plan; its item list
    cut after ``listed`` items as Stripe cuts it (``has_more``) when ``listed`` is given."""
    for number in range(2, count + 2):
        obj["items"]["data"].append(
            {
                "id": "si_%d" % number,
                "object": "subscription_item",
                "price": dict(obj["items"]["data"][0]["price"], id="price_addon", unit_amount=1000),
                "quantity": 1,
                "discounts": [],
            }
        )
    if listed is not None:
        obj["items"]["data"] = obj["items"]["data"][:listed]
        obj["items"]["has_more"] = True
    return obj


def stripe_invoice(amount_paid=0, amount_due=10000, status="paid", attempt_count=1):
    obj = {"created": 1790000000, "collection_method": "charge_automatically", "metadata": {}}
    obj.update(
        {
            "id": "in_1",
            "object": "invoice",
            "number": "INV-0001",
            "customer": CUS_REF,
            "currency": "usd",
            "amount_paid": amount_paid,
            "amount_due": amount_due,
            "amount_remaining": amount_due - amount_paid,
            "status": status,
            "attempt_count": attempt_count,
            "next_payment_attempt": None,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": SUB_REF, "metadata": {}},
            },
            "lines": {
                "object": "list",
                "data": [{"id": "il_1", "period": {"start": 1796083200, "end": 1798761600}}],
            },
        }
    )
    obj.pop("subscription", None)
    return obj


def stripe_charge(amount=10000, amount_refunded=10000, customer=CUS_REF, metadata=None):
    # Shaped as Stripe's charge object (stripe/openapi fixtures, API 2025-03-31.basil:
    # no ``invoice`` on a charge any more).
    return {
        "id": "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "captured": True,
        "created": 1790000000,
        "currency": "usd",
        "customer": customer,
        "metadata": metadata or {},
        "paid": True,
        "payment_intent": "pi_3PgafuB7WZ01zgkW0Yx2Qpq5",
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def stripe_refund(amount=10000, status="failed", metadata=None):
    # Shaped as Stripe's refund object (stripe/openapi fixtures): it names its charge only.
    return {
        "id": "re_3PgafuB7WZ01zgkW1mHjFZ9b",
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_3PgafuB7WZ01zgkW1cd5zDYq",
        "charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "created": 1790003600,
        "currency": "usd",
        "failure_balance_transaction": "txn_3PgafuB7WZ01zgkW1ZQjmMRo",
        "failure_reason": "expired_or_canceled_card",
        "metadata": metadata or {},
        "payment_intent": "pi_3PgafuB7WZ01zgkW0Yx2Qpq5",
        "reason": "requested_by_customer",
        "receipt_number": None,
        "status": status,
    }


def stripe_dispute(status="warning_needs_response", amount=10000):
    # Shaped as Stripe's dispute object (stripe/openapi fixtures): it names its charge only.
    return {
        "id": "dp_1Pgc71B7WZ01zgkWMevJiAUx",
        "object": "dispute",
        "amount": amount,
        "charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "created": 1790000000,
        "currency": "usd",
        "evidence_details": {
            "due_by": 1790985599,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": True,
        "livemode": False,
        "metadata": {},
        "payment_intent": "pi_3PgafuB7WZ01zgkW0Yx2Qpq5",
        "reason": "product_unacceptable",
        "status": status,
    }


SCHEDULE_REF = "sub_sched_1Pgc7AB7WZ01zgkWaeHcsbnC"


def stripe_schedule(next_price="price_start", quantity=1, status="active", subscription=SUB_REF):
    # Shaped as Stripe's subscription_schedule object (stripe/openapi fixtures): a
    # schedule made from the running subscription, its phases naming their prices by
    # id; the plan of the next phase from 2027-01-01 (the end of the paid period).
    def phase(start, end, price):
        item = {"price": price, "quantity": quantity, "discounts": [], "metadata": {}}
        return {
            "start_date": start,
            "end_date": end,
            "currency": "usd",
            "items": [dict(item, tax_rates=[])],
            "discounts": [],
            "proration_behavior": "create_prorations",
            "metadata": {},
        }

    return {
        "id": SCHEDULE_REF,
        "object": "subscription_schedule",
        "created": 1789990000,
        "customer": CUS_REF,
        "subscription": subscription,
        "status": status,
        "end_behavior": "release",
        "current_phase": {"start_date": 1790000000, "end_date": 1798761600},
        "phases": [
            phase(1790000000, 1798761600, "price_pro"),
            phase(1798761600, None, next_price),
        ],
        "canceled_at": None,
        "completed_at": None,
        "released_at": None,
        "released_subscription": None,
        "metadata": {},
        "livemode": False,
        "test_clock": None,
    }


def stripe_price(price_id, unit_amount, interval="month"):
    return {
        "id": price_id,
        "object": "price",
        "currency": "usd",
        "billing_scheme": "per_unit",
        "unit_amount": unit_amount,
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
    }


def stripe_endpoint(url, status="enabled", events=None, version="2025-03-31.basil"):
    """Shaped as Stripe's webhook endpoint object: every event type the addon uses
    unless ``events`` are given."""
    return {
        "id": "we_1",
        "object": "webhook_endpoint",
        "url": url,
        "status": status,
        "enabled_events": sorted(stripe_adapter.HANDLED) if events is None else events,
        "api_version": version,
    }


def stripe_list(url, data, has_more=False):
    """A list as Stripe's API answers it (one page), for the stubbed API calls."""
    return stripe.ListObject.construct_from(
        {"object": "list", "url": url, "has_more": has_more, "data": list(data)}, "sk_test_key"
    )


def stripe_event(event_type, obj, created, event_id=None, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id or "evt_%s_%d" % (event_type.replace(".", "_"), created),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": data,
        "request": {"id": None, "idempotency_key": None},
    }


@tagged("post_install", "-at_install", "customer_success")
class TestStripeAdapter(TransactionCase):
    """The verifier and the MRR reader alone, with a fixed secret."""

    def test_verify(self):
        body = json.dumps(stripe_event("invoice.paid", stripe_invoice(), 1)).encode()
        event = stripe_adapter.verify(body, stripe_adapter.sign(body, SECRET), SECRET)
        self.assertEqual((event.event_type, event.created), ("invoice.paid", 1))
        cases = [
            (None, "Missing Stripe-Signature"),
            ("t=1,v1=deadbeef", "Timestamp outside|No signatures"),
            (stripe_adapter.sign(body, "whsec_other"), "No signatures"),
            ("garbage", "Unable to extract timestamp|No signatures"),
        ]
        for header, message in cases:
            with self.subTest(header=header), self.assertRaisesRegex(AuthenticityError, message):
                stripe_adapter.verify(body, header, SECRET)
        with self.assertRaisesRegex(AuthenticityError, "No webhook signing secret"):
            stripe_adapter.verify(body, stripe_adapter.sign(body, SECRET), "")
        bad = b"[1, 2]"
        with self.assertRaisesRegex(PayloadError, "Not a Stripe event"):
            stripe_adapter.verify(bad, stripe_adapter.sign(bad, SECRET), SECRET)
        broken = b"{not json"
        with self.assertRaisesRegex(PayloadError, "not JSON"):
            stripe_adapter.verify(broken, stripe_adapter.sign(broken, SECRET), SECRET)

    def test_signature_within_tolerance(self):
        # Frozen: a real clock may pass a second between signing and checking
        body = json.dumps(stripe_event("invoice.paid", stripe_invoice(), 1)).encode()
        with freeze_time("2026-03-01 10:00:00"):
            header = stripe_adapter.sign(body, SECRET, time.time() - 300)
            self.assertEqual(
                stripe_adapter.verify(body, header, SECRET).external_id, "evt_invoice_paid_1"
            )
            late = stripe_adapter.sign(body, SECRET, time.time() - 301)
            with self.assertRaisesRegex(AuthenticityError, "Timestamp outside"):
                stripe_adapter.verify(body, late, SECRET)

    def test_schedule_phases(self):
        schedule = stripe_schedule()
        # The next phase is the one starting after the event, the soonest.
        self.assertEqual(stripe_adapter.next_phase(schedule, 1790000100)["start_date"], 1798761600)
        self.assertIsNone(stripe_adapter.next_phase(schedule, 1798761600))
        self.assertIsNone(stripe_adapter.next_phase({"phases": "garbled"}, 0))
        phase = schedule["phases"][1]
        self.assertEqual(stripe_adapter.phase_prices_missing(phase), ["price_start"])
        tiered = dict(stripe_price("price_seats", None), billing_scheme="tiered")
        phase["items"][0]["price"] = tiered
        self.assertEqual(stripe_adapter.phase_prices_missing(phase), ["price_seats"])
        phase["items"][0].update(price=stripe_price("price_start", 5000), quantity=2)
        self.assertEqual(stripe_adapter.phase_prices_missing(phase), [])
        mrr = stripe_adapter.subscription_mrr(stripe_adapter.phase_subscription(phase))
        self.assertEqual(mrr, 100.0)
        self.assertEqual(stripe_adapter.phase_discounts(phase), [])
        # A coupon named by id (as an event names it) is not counted, and said.
        phase["discounts"] = [{"coupon": "WELCOME20", "discount": None}]
        phase["items"][0]["discounts"] = [{"coupon": None, "discount": "di_kept"}]
        self.assertEqual(stripe_adapter.phase_discounts(phase), ["WELCOME20", "di_kept"])
        # Given (as the API expands it), it is.
        welcome = {"id": "WELCOME20", "percent_off": 20, "duration": "forever"}
        phase["discounts"] = [{"coupon": welcome, "discount": None}]
        phase["items"][0]["discounts"] = []
        self.assertEqual(stripe_adapter.phase_discounts(phase), [])
        mrr = stripe_adapter.subscription_mrr(stripe_adapter.phase_subscription(phase))
        self.assertEqual(mrr, 80.0)
        self.assertIsNone(stripe_adapter.wrong_object("subscription_schedule.created", schedule))
        self.assertIn(
            "not a subscription_schedule",
            stripe_adapter.wrong_object("subscription_schedule.created", stripe_subscription()),
        )

    def test_subscription_mrr(self):
        forever = {"coupon": {"percent_off": 20, "duration": "forever"}, "end": None}
        once = {"coupon": {"percent_off": 50, "duration": "once"}, "end": None}
        ended = {"coupon": {"percent_off": 50, "duration": "repeating"}, "end": 1000}
        amount_off = {"source": {"coupon": {"amount_off": 1200, "duration": "forever"}}}
        cases = [
            (stripe_subscription(unit_amount=10000), 100.0),
            (stripe_subscription(unit_amount=10000, quantity=3), 300.0),
            (stripe_subscription(unit_amount=120000, interval="year"), 100.0),
            (stripe_subscription(unit_amount=30000, interval="month", interval_count=3), 100.0),
            (stripe_subscription(unit_amount=7000, interval="week"), 304.38),
            (stripe_subscription(unit_amount=10000, discounts=[forever]), 80.0),
            (stripe_subscription(unit_amount=10000, discounts=[once]), 100.0),
            (stripe_subscription(unit_amount=10000, discounts=[ended]), 100.0),
            (stripe_subscription(unit_amount=10000, discounts=[amount_off]), 88.0),
            # 12.00 off each yearly invoice is 1.00 off the month
            (
                stripe_subscription(unit_amount=120000, interval="year", discounts=[amount_off]),
                99.0,
            ),
            (stripe_subscription(unit_amount=10000, discounts=["di_only_an_id"]), 100.0),
            (stripe_subscription(status="trialing"), 0.0),
            (stripe_subscription(status="past_due"), 100.0),
            (stripe_subscription(status="canceled"), 0.0),
            (stripe_subscription(unit_amount=5000, currency="jpy"), 5000.0),
        ]
        for obj, expected in cases:
            with self.subTest(obj=obj["items"]["data"][0]["price"], discounts=obj["discounts"]):
                self.assertAlmostEqual(stripe_adapter.subscription_mrr(obj, now=2000), expected)
        metered = stripe_subscription()
        metered["items"]["data"][0]["price"]["recurring"]["usage_type"] = "metered"
        self.assertEqual(stripe_adapter.subscription_mrr(metered), 0.0)

    def test_discounts_named_by_id(self):
        obj = stripe_subscription(unit_amount=10000, discounts=["di_sub"])
        obj["items"]["data"][0]["discounts"] = ["di_item", {"id": "di_expanded"}]
        self.assertEqual(stripe_adapter.discount_ids(obj), ["di_sub", "di_item"])
        self.assertEqual(stripe_adapter.discount_ids(stripe_subscription()), [])
        forever = {"id": "di_sub", "coupon": {"percent_off": 20, "duration": "forever"}}
        item_off = {"id": "di_item", "coupon": {"amount_off": 1000, "duration": "forever"}}
        fetched = stripe_subscription(unit_amount=10000, discounts=[forever])
        fetched["items"]["data"][0]["discounts"] = [item_off]
        read = stripe_adapter.with_expanded(obj, fetched)
        self.assertEqual(stripe_adapter.discount_ids(read), [])
        # 100 less 10 on the item, then 20 % on the subscription
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(read, now=2000), 72.0)
        self.assertEqual(obj["discounts"], ["di_sub"])  # the event is left as sent
        partly = stripe_adapter.with_expanded(obj, stripe_subscription(discounts=[forever]))
        self.assertEqual(stripe_adapter.discount_ids(partly), ["di_item"])
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(partly, now=2000), 80.0)

    def test_items_beyond_the_first_listed(self):
        event = with_add_ons(stripe_subscription(), 11, listed=10)
        self.assertTrue(stripe_adapter.items_truncated(event))
        self.assertFalse(stripe_adapter.items_truncated(stripe_subscription()))
        read = stripe_adapter.with_expanded(event, with_add_ons(stripe_subscription(), 11))
        self.assertFalse(stripe_adapter.items_truncated(read))
        self.assertEqual(len(read["items"]["data"]), 12)
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(read), 210.0)
        self.assertEqual(len(event["items"]["data"]), 10)  # the event is left as sent
        # An answer without items completes nothing: still cut.
        self.assertTrue(stripe_adapter.items_truncated(stripe_adapter.with_expanded(event, {})))

    def test_coupons_named_by_id_since_clover(self):
        # 2025-09-30.clover: a discount's coupon is in ``source``, by id, expanded nowhere.
        def discount(discount_id, coupon_id):
            source = {"type": "coupon", "coupon": coupon_id}
            return {"id": discount_id, "object": "discount", "source": source, "end": None}

        current = stripe_subscription(unit_amount=10000, discounts=[discount("di_1", "PCT20")])
        current["items"]["data"][0]["discounts"] = [discount("di_2", "OFF10")]
        coupons = {
            "PCT20": {"id": "PCT20", "percent_off": 20, "duration": "forever"},
            "OFF10": {"id": "OFF10", "amount_off": 1000, "currency": "usd", "duration": "forever"},
        }

        def coupon(coupon_id, **_options):
            return stripe.Coupon.construct_from(coupons[coupon_id], "rk")

        answer = stripe.Subscription.construct_from(current, "rk")
        with (
            patch.object(stripe.Subscription, "retrieve", return_value=answer),
            patch.object(stripe.Coupon, "retrieve", side_effect=coupon) as api,
        ):
            fetched = stripe_adapter.fetch_subscription("rk_1", SUB_REF, "2025-09-30.clover")
        self.assertEqual(
            sorted(api.call_args_list, key=str),
            sorted(
                [
                    call(
                        name,
                        expand=["currency_options"],
                        api_key="rk_1",
                        stripe_version="2025-09-30.clover",
                    )
                    for name in ("PCT20", "OFF10")
                ],
                key=str,
            ),
        )
        event = stripe_subscription(unit_amount=10000, discounts=["di_1"])
        event["items"]["data"][0]["discounts"] = ["di_2"]
        read = stripe_adapter.with_expanded(event, fetched)
        # 100 less 10 on the item, then 20 % on the subscription
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(read, now=2000), 72.0)

    def test_an_amount_off_in_another_currency(self):
        # A coupon of 10.00 USD that also takes 5 000 KZT, on a tenge subscription.
        coupon = {"id": "OFF", "amount_off": 1000, "currency": "usd", "duration": "forever"}
        sub = stripe_subscription(unit_amount=2000000, currency="kzt")
        sub["discounts"] = [{"id": "di_1", "object": "discount", "coupon": coupon}]
        answer = stripe.Subscription.construct_from(sub, "rk")
        full = dict(coupon, currency_options={"kzt": {"amount_off": 500000}})
        with (
            patch.object(stripe.Subscription, "retrieve", return_value=answer),
            patch.object(
                stripe.Coupon, "retrieve", return_value=stripe.Coupon.construct_from(full, "rk")
            ) as api,
        ):
            fetched = stripe_adapter.fetch_subscription("rk_1", SUB_REF, "2025-03-31.basil")
        api.assert_called_once_with(
            "OFF", expand=["currency_options"], api_key="rk_1", stripe_version="2025-03-31.basil"
        )
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(fetched, now=2000), 15000.0)
        # Its amount in its own currency is never taken for another's.
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(sub, now=2000), 20000.0)
        usd = dict(stripe_subscription(unit_amount=10000), discounts=sub["discounts"])
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(usd, now=2000), 90.0)

    def test_invoices_of_no_subscription(self):
        one_off = dict(stripe_invoice(), parent=None)
        self.assertTrue(stripe_adapter.of_no_subscription(one_off))
        quote = {"type": "quote_details", "quote_details": {"quote": "qt_1"}}
        self.assertTrue(stripe_adapter.of_no_subscription(dict(one_off, parent=quote)))
        for change in (
            {"parent": stripe_invoice()["parent"]},
            {"parent": "sub_in_a_string"},  # unreadable is not none
            {"subscription": "sub_legacy"},
            {"billing_reason": "subscription_cycle"},
            {"object": "charge"},
        ):
            with self.subTest(change=change):
                self.assertFalse(stripe_adapter.of_no_subscription(dict(one_off, **change)))

    def test_what_a_period_of_an_item_bills(self):
        amount = stripe_adapter.item_amount
        tiers = [
            {"up_to": 5, "unit_amount": 1000, "flat_amount": None},
            {"up_to": 10, "unit_amount": 800, "flat_amount": 500},
            {"up_to": None, "unit_amount_decimal": "600.5", "flat_amount": None},
        ]
        volume = {"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": tiers}
        graduated = dict(volume, tiers_mode="graduated")
        packs = {"unit_amount": 5000, "transform_quantity": {"divide_by": 10, "round": "up"}}
        cases = [
            ({"unit_amount": 1000}, 3, 3000),
            ({"unit_amount": 1000}, 0, 0),
            ({"unit_amount": None, "unit_amount_decimal": "12.5"}, 4, 50),
            ({"amount": 700}, 2, 1400),  # the legacy plan object
            (packs, 11, 10000),
            (packs, 10, 5000),
            (dict(packs, transform_quantity={"divide_by": 10, "round": "down"}), 19, 5000),
            (volume, 3, 3000),
            (volume, 7, 7 * 800 + 500),
            (volume, 12, 12 * 600.5),
            (graduated, 3, 3000),
            (graduated, 7, 5 * 1000 + 2 * 800 + 500),
            (graduated, 12, 5 * 1000 + 5 * 800 + 500 + 2 * 600.5),
            (volume, 0, 0),
            ({"billing_scheme": "tiered", "tiers_mode": "volume"}, 3, None),  # no tiers
        ]
        for price, quantity, expected in cases:
            with self.subTest(price=price, quantity=quantity):
                self.assertEqual(amount(price, quantity), expected)
        # An event's tiered price has no tiers: the API's are taken, by price id.
        event_obj = stripe_subscription(quantity=7)
        event_obj["items"]["data"][0]["price"] = {
            "id": "price_seats",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "unit_amount": None,
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        }
        self.assertEqual(stripe_adapter.prices_without_tiers(event_obj), ["price_seats"])
        self.assertEqual(stripe_adapter.subscription_mrr(event_obj), 0.0)
        fetched = stripe_subscription(quantity=7)
        fetched["items"]["data"][0]["price"] = dict(
            event_obj["items"]["data"][0]["price"], tiers=tiers
        )
        read = stripe_adapter.with_expanded(event_obj, fetched)
        self.assertEqual(stripe_adapter.prices_without_tiers(read), [])
        self.assertAlmostEqual(stripe_adapter.subscription_mrr(read), 71.0)

    def test_seats_follow_a_per_seat_quantity_only(self):
        seats = stripe_adapter.seats
        per_seat = stripe_subscription(quantity=12)
        flat = stripe_subscription(quantity=1)
        self.assertEqual(seats(per_seat, {}, 10), 12)
        # A flat-priced plan bills 1 whatever the team: the seats stay.
        self.assertEqual(seats(flat, {}, 20), 20)
        cheaper = {"items": stripe_subscription(unit_amount=5)["items"]}
        self.assertEqual(seats(flat, cheaper, 20), 20)
        self.assertEqual(seats(flat, {}, 0), 1)
        # Per-seat billing down to one seat: the seats followed the quantity.
        self.assertEqual(seats(flat, {"items": stripe_subscription(quantity=3)["items"]}, 3), 1)
        # No quantity Stripe can tell, or one of the wrong type: the seats stay.
        self.assertEqual(seats({"items": {"data": [{"quantity": "7"}, "x"]}}, {}, 4), 4)
        self.assertEqual(stripe_adapter.subscription_quantity({"items": []}), 0)

    def test_references(self):
        self.assertEqual(stripe_adapter.subscription_ref(stripe_invoice()), SUB_REF)
        self.assertEqual(stripe_adapter.subscription_ref({"subscription": "sub_old"}), "sub_old")
        self.assertEqual(stripe_adapter.customer_ref({"customer": {"id": "cus_x"}}), "cus_x")

    def test_how_stripe_sends_to_the_webhook_url(self):
        url = "https://odoo.example/customer_success/webhook/stripe/7"
        everything = sorted(stripe_adapter.HANDLED)

        def endpoint(address=url, **values):
            return stripe_endpoint(address, **values)

        old_host = "https://crm.old.example/customer_success/webhook/stripe/7"
        cases = [
            # endpoints, endpoint found, elsewhere, disabled, missing, version
            ([endpoint()], True, [], False, [], None),
            ([endpoint(url + "/")], True, [], False, [], None),  # a trailing slash
            ([endpoint(events=["*"])], True, [], False, [], None),
            ([endpoint(version=None)], True, [], False, [], None),  # the account's default
            ([endpoint(status="disabled")], True, [], True, [], None),
            ([endpoint(version="2024-06-20")], True, [], False, [], "2024-06-20"),
            ([endpoint(events=everything[1:])], True, [], False, everything[:1], None),
            ([endpoint(old_host)], False, [old_host], False, [], None),
            ([endpoint("https://other.example/hook")], False, [], False, [], None),
            ([], False, [], False, [], None),
        ]
        for endpoints, found, elsewhere, disabled, missing, version in cases:
            with self.subTest(endpoints=endpoints):
                result = stripe_adapter.check_endpoints(endpoints, url, "2025-03-31.basil")
                self.assertEqual(bool(result["endpoint"]), found)
                self.assertEqual(result["elsewhere"], elsewhere)
                self.assertEqual(result["disabled"], disabled)
                self.assertEqual(result["missing"], missing)
                self.assertEqual(result["version"], version)


class StripeWebhookCase(CustomerSuccessMixin, HttpCase):
    """A Stripe billing account and subscription, signed requests over HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_billing(
            "Stripe USD",
            "stripe",
            email="billing@vostok.example",
            webhook_secret=SECRET,
        )
        with freeze_time("2026-03-01"):
            cls.sub = cls._subscription(
                price=100.0,
                billing_account_id=cls.account.id,
                external_subscription_ref=SUB_REF,
            )

    def post(self, event, secret=SECRET, timestamp=None, headers=None, body=None, url=None):
        body = body if body is not None else json.dumps(event).encode()
        sent = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_adapter.sign(body, secret, timestamp),
        }
        sent.update(headers or {})
        sent = {key: value for key, value in sent.items() if value is not None}
        return self.url_open(url or self.url, data=body, headers=sent)

    def process(self):
        self.Event._process_due()
        self.env.invalidate_all()

    def stripe_movements(self):
        return self.env["cs.mrr.movement"].search(
            [("subscription_id", "=", self.sub.id), ("source", "=", "stripe")], order="id"
        )


@tagged("post_install", "-at_install", "customer_success")
class TestStripeWebhook(StripeWebhookCase):
    """Real signed requests over HTTP, then the inbox cron, then the effects."""

    def test_upgrade_over_http(self):
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000),
            created=1790000000,
            previous={"items": stripe_subscription(unit_amount=10000)["items"]},
        )
        response = self.post(event)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertFalse(response.json()["duplicate"])
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual((stored.state, stored.event_type), ("received", event["type"]))
        self.process()
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertAlmostEqual(self.sub.mrr, 150.0)
        movement = self.stripe_movements()
        self.assertEqual((movement.movement_type, movement.amount), ("expansion", 50.0))
        self.assertEqual(movement.date, date(2026, 9, 21))  # the event's own date
        activity = self.sub.activity_ids
        self.assertEqual(activity.user_id, self.cs_user)
        self.assertIn("Upgrade", activity.summary)
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertEqual(self.sub.next_payment_date, date(2027, 1, 1))

    def test_a_renewal_stripe_tells_nothing_of_reaches_the_responsible(self):
        self.account.user_id = self.cs_manager
        paid = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        self.assertEqual(self.post(paid).status_code, 200)
        self.process()
        self.assertEqual(self.sub.next_payment_date, date(2027, 1, 1))
        # Received when Stripe sent it, whatever the day the test runs on.
        self.env.cr.execute(
            "UPDATE cs_billing_event SET create_date = '2026-09-21 10:00' WHERE account_id = %s",
            [self.account.id],
        )
        Account = self.env["cs.billing.account"]

        def alert():
            return self.account.activity_ids.filtered(lambda a: a.summary == "Renewals unheard of")

        Account._alert_unheard(today=date(2027, 1, 3))
        self.assertFalse(alert(), "due two days ago: Stripe may still be retrying")
        Account._alert_unheard(today=date(2027, 1, 4))
        self.assertEqual(alert().user_id, self.cs_manager)
        self.assertIn(self.sub.display_name, alert().note)
        self.assertIn("The newest event of this account came on", alert().note)
        # Stripe's news of the new period comes at last: the to-do is done.
        renewed = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(period_end=1801440000),
            created=1798765200,
            previous={"current_period_end": 1798761600},
        )
        self.assertEqual(self.post(renewed).status_code, 200)
        self.process()
        self.assertEqual(self.sub.next_payment_date, date(2027, 2, 1))
        Account._alert_unheard(today=date(2027, 1, 5))
        self.assertFalse(alert())

    def check_at_stripe(self, *endpoints, undelivered=(), user=None):
        """The account checked at Stripe, whose API (the one place the network is
        stubbed) lists ``endpoints``, and ``undelivered`` events."""
        with (
            patch(
                "stripe.WebhookEndpoint.list",
                return_value=stripe_list("/v1/webhook_endpoints", endpoints),
            ) as asked,
            patch(
                "stripe.Event.list", return_value=stripe_list("/v1/events", undelivered)
            ) as events,
        ):
            action = self.account.with_user(user or self.cs_manager).action_stripe_check_endpoint()
        return action["params"], asked, events

    def test_the_account_is_checked_at_stripe(self):
        self.account.api_key = "sk_test_key"
        endpoint = stripe_endpoint(self.account.webhook_url)
        told, asked, events = self.check_at_stripe(endpoint)
        asked.assert_called_once_with(
            limit=100, api_key="sk_test_key", stripe_version="2025-03-31.basil"
        )
        self.assertFalse(events.call_args.kwargs["delivery_success"])
        self.assertEqual(told["type"], "success")
        self.assertIn("sends every event type the addon uses", told["message"])
        self.assertIn(told["message"], self.account.message_ids[0].body)
        # Disabled, two events left out, another API version.
        endpoint.update(
            status="disabled",
            enabled_events=sorted(stripe_adapter.HANDLED - {"invoice.paid", "refund.failed"}),
            api_version="2024-06-20",
        )
        told, _asked, _events = self.check_at_stripe(endpoint)
        self.assertEqual(told["type"], "warning")
        self.assertIn("The endpoint is disabled at Stripe", told["message"])
        self.assertIn("does not send (2): invoice.paid, refund.failed", told["message"])
        self.assertIn("API version 2024-06-20", told["message"])
        # Only an endpoint of the Odoo address before.
        endpoint["url"] = "https://crm.old.example/customer_success/webhook/stripe/%d" % (
            self.account.id
        )
        told, _asked, _events = self.check_at_stripe(endpoint)
        self.assertIn("No webhook endpoint at Stripe sends to", told["message"])
        self.assertIn("crm.old.example", told["message"])
        # Events Stripe could not deliver: those never received here are named.
        paid = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        self.assertEqual(self.post(paid).status_code, 200)
        lost = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790003600)
        endpoint["url"] = self.account.webhook_url
        endpoint.update(status="enabled", api_version="2025-03-31.basil")
        endpoint["enabled_events"] = ["*"]
        told, _asked, _events = self.check_at_stripe(endpoint, undelivered=[paid, lost])
        self.assertIn("never received: 1 (%s)" % lost["id"], told["message"])
        self.assertIn(lost["id"], told["message"])
        self.assertNotIn(paid["id"], told["message"])

    def test_checking_at_stripe_needs_a_manager_and_a_key(self):
        with self.assertRaisesRegex(UserError, "needs the account's API Secret Key"):
            self.account.with_user(self.cs_manager).action_stripe_check_endpoint()
        self.account.api_key = "sk_test_key"
        with self.assertRaises(AccessError):
            self.account.with_user(self.cs_user).action_stripe_check_endpoint()
        refusal = stripe.PermissionError("The provided key does not have the permission")
        with (
            patch("stripe.WebhookEndpoint.list", side_effect=refusal),
            self.assertRaisesRegex(UserError, "Stripe did not list the webhook endpoints"),
        ):
            self.account.with_user(self.cs_manager).action_stripe_check_endpoint()
        # A key that may read endpoints but not events: said, the rest checked.
        with (
            patch("stripe.WebhookEndpoint.list", return_value=stripe_list("/v1/x", [])),
            patch("stripe.Event.list", side_effect=refusal),
        ):
            told = self.account.with_user(self.cs_manager).action_stripe_check_endpoint()
        self.assertIn("No webhook endpoint at Stripe sends to", told["params"]["message"])
        self.assertIn("Stripe did not list its undelivered events", told["params"]["message"])

    # ------------------------------------------------------------------
    # Subscription schedules: a change of plan set for a later day
    # ------------------------------------------------------------------
    def send_schedule(self, event_type, schedule, created):
        event = stripe_event(event_type, schedule, created)
        self.assertEqual(self.post(event).status_code, 200)
        return self.Event.search([("external_id", "=", event["id"])])

    def schedule_todos(self):
        return self.sub.activity_ids.filtered(lambda a: "scheduled" in a.summary)

    def test_a_downgrade_scheduled_at_stripe_is_the_csm_s_before_it_happens(self):
        self.account.api_key = "rk_test_read_subscriptions"
        created = self.send_schedule("subscription_schedule.created", stripe_schedule(), 1790000100)
        # The event names the next plan's price by id: its worth is asked of the API.
        fetched = stripe_schedule(next_price=stripe_price("price_start", 5000))
        fetched["phases"][0]["items"][0]["price"] = stripe_price("price_pro", 10000)
        answer = stripe.SubscriptionSchedule.construct_from(fetched, "rk")
        with patch.object(stripe.SubscriptionSchedule, "retrieve", return_value=answer) as api:
            self.process()
        api.assert_called_once_with(
            SCHEDULE_REF,
            expand=[
                "phases.items.price.tiers",
                "phases.discounts.coupon.currency_options",
                "phases.items.discounts.coupon",
            ],
            api_key="rk_test_read_subscriptions",
            stripe_version="2025-03-31.basil",
        )
        self.assertEqual(created.state, "processed", created.error)
        self.assertEqual(
            created.result, "Downgrade scheduled for 01/01/2027: MRR 100.00 → 50.00 USD"
        )
        todo = self.schedule_todos()
        self.assertEqual(todo.summary, "Downgrade scheduled: %s" % self.customer.name)
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn("Find out why and try to keep them on their plan", todo.note)
        self.assertIn(
            "Downgrade scheduled for 01/01/2027", str(self.sub.message_ids.mapped("body"))
        )
        # Nothing has changed yet: the MRR and the ledger wait for the day.
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertFalse(self.stripe_movements())
        # The customer thinks better of it: Stripe cancels the schedule.
        cancelled = self.send_schedule(
            "subscription_schedule.canceled",
            dict(stripe_schedule(), status="canceled", canceled_at=1790000500),
            1790000500,
        )
        self.process()
        self.assertEqual(cancelled.result, "The plan change scheduled at Stripe was cancelled")
        self.assertFalse(self.schedule_todos())
        done = self.sub.message_ids.filtered(lambda m: m.mail_activity_type_id)
        self.assertIn("Downgrade scheduled", str(done.mapped("body")))
        # Its creation delivered again late, as Stripe may: older, not applied.
        late = self.send_schedule("subscription_schedule.updated", stripe_schedule(), 1790000200)
        self.process()
        self.assertEqual(late.state, "ignored")
        self.assertFalse(self.schedule_todos())

    def test_a_scheduled_plan_s_coupon_is_read_with_its_prices(self):
        self.account.api_key = "rk_test_read_subscriptions"
        sent = stripe_schedule(next_price="price_pro")
        sent["phases"][1]["discounts"] = [{"coupon": "HALF", "discount": None}]
        event = self.send_schedule("subscription_schedule.updated", sent, 1790000100)
        fetched = copy.deepcopy(sent)
        fetched["phases"][1]["items"][0]["price"] = stripe_price("price_pro", 10000)
        half = {"id": "HALF", "percent_off": 50, "duration": "forever"}
        fetched["phases"][1]["discounts"] = [{"coupon": half, "discount": None}]
        answer = stripe.SubscriptionSchedule.construct_from(fetched, "rk")
        with patch.object(stripe.SubscriptionSchedule, "retrieve", return_value=answer):
            self.process()
        self.assertEqual(event.result, "Downgrade scheduled for 01/01/2027: MRR 100.00 → 50.00 USD")
        # Without a key the coupon is said not counted: the same plan is no change.
        self.account.api_key = False
        sent = stripe_schedule(next_price=stripe_price("price_pro", 10000))
        sent["phases"][1]["discounts"] = [{"coupon": "HALF", "discount": None}]
        event = self.send_schedule("subscription_schedule.updated", sent, 1790000200)
        self.process()
        self.assertEqual(
            event.result,
            "Plan change scheduled for 01/01/2027, MRR unchanged; "
            "Discounts of the scheduled plan not counted: HALF",
        )

    def test_a_scheduled_downgrade_taking_effect_closes_its_to_do(self):
        self.account.api_key = "rk_test_read_subscriptions"
        self.send_schedule("subscription_schedule.created", stripe_schedule(), 1790000100)
        fetched = stripe_schedule(next_price=stripe_price("price_start", 5000))
        answer = stripe.SubscriptionSchedule.construct_from(fetched, "rk")
        with patch.object(stripe.SubscriptionSchedule, "retrieve", return_value=answer):
            self.process()
        self.assertEqual(self.sub.cs_scheduled_change_date, date(2027, 1, 1))
        self.assertTrue(self.schedule_todos())
        # The day comes: Stripe moves the subscription to the new plan.
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=5000),
            created=1798761700,
            previous={"items": stripe_subscription(unit_amount=10000)["items"]},
        )
        self.post(event)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertIn("The plan change scheduled for 01/01/2027 took effect", stored.result)
        self.assertFalse(self.schedule_todos())
        self.assertFalse(self.sub.cs_scheduled_change_date)
        self.assertAlmostEqual(self.sub.mrr, 50.0)
        self.assertEqual(self.stripe_movements().movement_type, "contraction")
        # A schedule update of before that day, delivered late: nothing to come.
        late = self.send_schedule("subscription_schedule.updated", stripe_schedule(), 1790000200)
        self.process()
        self.assertEqual(late.result, "No plan change to come at Stripe any more")
        self.assertFalse(self.schedule_todos() or self.sub.cs_scheduled_change_date)

    def test_a_scheduled_change_without_an_api_key_or_worth_more(self):
        # No API key: the worth of the next plan is unknown, the CSM talks to them.
        self.account.user_id = self.cs_manager
        event = self.send_schedule("subscription_schedule.created", stripe_schedule(), 1790000100)
        self.process()
        self.assertEqual(event.state, "processed", event.error)
        self.assertIn("Plan change scheduled for 01/01/2027", event.result)
        self.assertIn("(price_start) are named by id only", event.result)
        todo = self.schedule_todos()
        self.assertEqual(todo.summary, "Plan change scheduled: %s" % self.customer.name)
        self.assertTrue(
            self.account.activity_ids.filtered(lambda a: "API key" in a.summary)
        )  # the account's responsible is asked for a key, once
        # A key entered, the schedule changed to more seats: an upgrade coming, a
        # note and no to-do (the unknown change's is done).
        self.account.api_key = "rk_test_read_subscriptions"
        more = stripe_schedule(next_price="price_pro", quantity=3)
        fetched = copy.deepcopy(more)
        for phase in fetched["phases"]:
            phase["items"][0]["price"] = stripe_price("price_pro", 10000)
        answer = stripe.SubscriptionSchedule.construct_from(fetched, "rk")
        event = self.send_schedule("subscription_schedule.updated", more, 1790000300)
        with patch.object(stripe.SubscriptionSchedule, "retrieve", return_value=answer):
            self.process()
        self.assertEqual(event.result, "Upgrade scheduled for 01/01/2027: MRR 100.00 → 300.00 USD")
        self.assertFalse(self.schedule_todos())
        # Released once its last phase began: nothing to come.
        released = self.send_schedule(
            "subscription_schedule.released",
            dict(more, status="released", released_subscription=SUB_REF),
            1798761700,
        )
        self.process()
        self.assertIn("no plan change to come", released.result)
        # A schedule of a subscription it has yet to create is not ours to link.
        pending = self.send_schedule(
            "subscription_schedule.created",
            dict(stripe_schedule(subscription=None), id="sub_sched_new", status="not_started"),
            1790000400,
        )
        self.process()
        self.assertEqual(pending.state, "ignored")
        self.assertIn("of no subscription yet", pending.result)

    def discounted_update(self, created=1790000000):
        """A signed update that adds a discount, named by id as Stripe sends it."""
        obj = stripe_subscription(unit_amount=10000, discounts=["di_1QxWelcome20"])
        event = stripe_event(
            "customer.subscription.updated",
            obj,
            created=created,
            previous={"discounts": []},
        )
        self.assertEqual(self.post(event).status_code, 200)
        return self.Event.search([("external_id", "=", event["id"])])

    def test_a_discount_named_by_id_is_read_from_the_api(self):
        self.account.api_key = "rk_test_read_subscriptions"
        discount = {
            "id": "di_1QxWelcome20",
            "object": "discount",
            "coupon": {"id": "WELCOME20", "percent_off": 20, "duration": "forever"},
            "end": None,
        }
        current = stripe_subscription(unit_amount=10000, discounts=[discount])
        answer = stripe.Subscription.construct_from(current, "rk")
        event = self.discounted_update()
        with patch.object(stripe.Subscription, "retrieve", return_value=answer) as api:
            self.process()
        api.assert_called_once_with(
            SUB_REF,
            api_key="rk_test_read_subscriptions",
            stripe_version="2025-03-31.basil",
            expand=["discounts", "items.data.discounts", "items.data.price.tiers"],
        )
        self.assertEqual(event.state, "processed", event.error)
        self.assertAlmostEqual(self.sub.mrr, 80.0)
        movement = self.stripe_movements()
        self.assertEqual((movement.movement_type, movement.amount), ("contraction", -20.0))
        self.assertIn("Downgrade", event.result)

    def test_a_discount_gone_from_the_subscription_or_without_an_api_key(self):
        self.account.user_id = self.cs_manager
        event = self.discounted_update()
        self.process()  # no API key: nothing to ask
        self.assertEqual(event.state, "processed", event.error)
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertIn(
            "Discounts di_1QxWelcome20 not counted in the MRR: Stripe names them by id only",
            event.result,
        )
        self.assertIn("di_1QxWelcome20", self.sub.message_ids[0].body)
        # The account's responsible is asked for a key, once, until one is entered.
        todo = self.account.activity_ids
        self.assertEqual(todo.summary, "Stripe API key needed")
        self.assertEqual(todo.user_id, self.cs_manager)
        self.assertIn("read access to subscriptions, coupons and products", str(todo.note))
        again = self.discounted_update(created=1790043200)
        self.process()
        self.assertEqual(again.state, "processed", again.error)
        self.assertEqual(self.account.activity_ids, todo)
        # With a key, a discount removed at Stripe since the event is not counted either.
        self.account.api_key = "rk_test_read_subscriptions"
        self.assertFalse(self.account.activity_ids, "done once the key is entered")
        later = self.discounted_update(created=1790086400)
        answer = stripe.Subscription.construct_from(stripe_subscription(), "rk")
        with patch.object(stripe.Subscription, "retrieve", return_value=answer):
            self.process()
        self.assertEqual(later.state, "processed", later.error)
        self.assertIn("Discounts di_1QxWelcome20 no longer on the subscription", later.result)
        self.assertAlmostEqual(self.sub.mrr, 100.0)

    def test_a_tiered_price_is_read_from_the_api(self):
        price = {
            "id": "price_seats_volume",
            "object": "price",
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "unit_amount": None,
            "currency": "usd",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        }
        tiers = [{"up_to": 10, "unit_amount": 1500}, {"up_to": None, "unit_amount": 1200}]

        def tiered(created, with_tiers=False):
            obj = stripe_subscription(quantity=12)
            obj["items"]["data"][0]["price"] = dict(price, tiers=tiers) if with_tiers else price
            return obj

        first = stripe_event("customer.subscription.updated", tiered(0), created=1790000000)
        self.assertEqual(self.post(first).status_code, 200)
        self.process()  # no API key: the price's tiers are unknown
        event = self.Event.search([("external_id", "=", first["id"])])
        self.assertEqual(event.state, "processed", event.error)
        self.assertIn(
            "MRR left as it was: the tiers of price_seats_volume are unknown", event.result
        )
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # unknown, not zero: no false churn
        self.assertFalse(self.stripe_movements())
        self.account.api_key = "rk_test_read_subscriptions"
        later = stripe_event("customer.subscription.updated", tiered(0), created=1790086400)
        self.assertEqual(self.post(later).status_code, 200)
        answer = stripe.Subscription.construct_from(tiered(0, with_tiers=True), "rk")
        with patch.object(stripe.Subscription, "retrieve", return_value=answer):
            self.process()
        event = self.Event.search([("external_id", "=", later["id"])])
        self.assertEqual(event.state, "processed", event.error)
        self.assertAlmostEqual(self.sub.mrr, 144.0)  # 12 seats at the 11+ tier's 12.00
        self.assertNotIn("not counted", event.result)

    def test_items_beyond_the_first_ten_are_read_from_the_api(self):
        def many_items(created):
            obj = with_add_ons(stripe_subscription(), 11, listed=10)
            event = stripe_event("customer.subscription.updated", obj, created=created)
            self.assertEqual(self.post(event).status_code, 200)
            return self.Event.search([("external_id", "=", event["id"])])

        self.account.user_id = self.cs_manager
        seats = self.sub.seats
        first = many_items(1790000000)
        self.process()  # no API key: the items not listed are unknown
        self.assertEqual(first.state, "processed", first.error)
        self.assertIn("Stripe sent the first 10 items of the subscription only", first.result)
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # not the first ten's 190.00
        self.assertEqual(self.sub.seats, seats)
        self.assertFalse(self.stripe_movements())
        self.assertEqual(self.account.activity_ids.summary, "Stripe API key needed")
        self.assertIn("more items", str(self.account.activity_ids.note))
        # With a key: the subscription, then all of its items, page after page.
        self.account.api_key = "rk_test_read_subscriptions"
        later = many_items(1790086400)
        answer = stripe.Subscription.construct_from(
            with_add_ons(stripe_subscription(), 11, listed=10), "rk"
        )
        items = stripe.ListObject.construct_from(
            {
                "object": "list",
                "url": "/v1/subscription_items",
                "has_more": False,
                "data": with_add_ons(stripe_subscription(), 11)["items"]["data"],
            },
            "rk",
        )
        with (
            patch.object(stripe.Subscription, "retrieve", return_value=answer),
            patch.object(stripe.SubscriptionItem, "list", return_value=items) as listing,
        ):
            self.process()
        listing.assert_called_once_with(
            subscription=SUB_REF,
            limit=100,
            expand=["data.discounts", "data.price.tiers"],
            api_key="rk_test_read_subscriptions",
            stripe_version="2025-03-31.basil",
        )
        self.assertEqual(later.state, "processed", later.error)
        self.assertAlmostEqual(self.sub.mrr, 210.0)  # the plan and its 11 add-ons
        movement = self.stripe_movements()
        self.assertEqual((movement.movement_type, movement.amount), ("expansion", 110.0))
        self.assertNotIn("MRR left as it was", later.result)

    def test_an_invoice_paid_with_nothing_to_pay(self):
        # Stripe's invoice of a trial's start (or of a full discount, or one the
        # customer's credit covered): paid, for 0.00.
        event = stripe_event(
            "invoice.paid", stripe_invoice(amount_paid=0, amount_due=0), created=1790000000
        )
        self.assertEqual(self.post(event).status_code, 200)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("Invoice paid with nothing to pay", stored.result)
        self.assertFalse(stored.to_reconcile)  # nothing for the accountants
        self.assertFalse(stored.payment_id or stored.recovered)
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertEqual(self.sub.next_payment_date, date(2027, 1, 1))  # the period's end
        # A subscription that owes for another invoice still owes.
        self.sub.write({"payment_status": "failed", "amount_due": 100.0})
        later = stripe_event(
            "invoice.paid",
            dict(stripe_invoice(amount_paid=0, amount_due=0), id="in_2"),
            created=1790086400,
        )
        self.assertEqual(self.post(later).status_code, 200)
        self.process()
        stored = self.Event.search([("external_id", "=", later["id"])])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("still owes 100.00 USD of another invoice", stored.result)
        self.assertFalse(stored.to_reconcile or stored.recovered)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))

    def test_an_invoice_paid_outside_stripe(self):
        # The customer paid by bank transfer; the invoice was marked paid at Stripe.
        invoice = self._posted_invoice(self.sub, 100.0)
        cents = round(invoice.amount_total * 100)
        self.sub.write({"payment_status": "failed", "amount_due": invoice.amount_total})
        obj = dict(stripe_invoice(amount_paid=cents, amount_due=cents), paid_out_of_band=True)
        event = stripe_event("invoice.paid", obj, created=1790000000)
        self.assertEqual(self.post(event).status_code, 200)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("paid outside Stripe: no payment registered", stored.result)
        # Not on Stripe's journal: the money is on the bank statement.
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertFalse(stored.payment_id or stored.to_reconcile)
        self.assertTrue(stored.recovered)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_an_invoice_of_no_subscription(self):
        # A setup fee invoiced at Stripe on its own: no subscription in its parent.
        self.sub.external_customer_ref = CUS_REF
        status = self.sub.payment_status

        def one_off(event_type, event_id, **values):
            obj = dict(stripe_invoice(), id=event_id, number=event_id, parent=None, **values)
            event = stripe_event(event_type, obj, created=1790000000, event_id="evt_" + event_id)
            self.assertEqual(self.post(event).status_code, 200)
            return self.Event.search([("external_id", "=", event["id"])])

        paid = one_off("invoice.paid", "SETUP-1", amount_paid=50000, amount_due=50000)
        failed = one_off("invoice.payment_failed", "SETUP-2", amount_paid=0)
        free = one_off("invoice.paid", "SETUP-3", amount_paid=0, amount_due=0)
        self.process()
        self.assertEqual(paid.state, "processed", paid.error)
        self.assertIn("Invoice SETUP-1, of no subscription, paid: 500.00 USD", paid.result)
        self.assertTrue(paid.to_reconcile)  # the money waits for the accountant
        self.assertEqual(paid.partner_id, self.customer)
        self.assertFalse(paid.subscription_id)
        self.assertEqual((failed.state, free.state), ("ignored", "ignored"))
        self.assertIn("of no subscription", failed.result)
        self.assertFalse(failed.to_reconcile or free.to_reconcile)
        self.assertEqual(self.sub.payment_status, status)  # no dunning, no status
        self.assertFalse(self.Event.search([("state", "=", "unmatched")]))
        self.assertFalse(self.sub.activity_ids)

    def test_a_trial_asks_nothing_for_its_discounts(self):
        self.account.api_key = "rk_test_read_subscriptions"
        trial = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(status="trialing", discounts=["di_1QxWelcome20"]),
            created=1790000000,
        )
        self.assertEqual(self.post(trial).status_code, 200)
        with patch.object(stripe.Subscription, "retrieve") as api:
            self.process()
        api.assert_not_called()  # a trial has no MRR to discount
        event = self.Event.search([("external_id", "=", trial["id"])])
        self.assertEqual(event.state, "processed", event.error)
        self.assertNotIn("Discounts", event.result)

    def test_stripe_unreachable_for_discounts_retries_the_event(self):
        self.account.api_key = "rk_test_read_subscriptions"
        event = self.discounted_update()
        failure = stripe.APIConnectionError("Network down")
        with (
            patch.object(stripe.Subscription, "retrieve", side_effect=failure),
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
        ):
            self.process()
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("Stripe did not give the subscription", event.error)
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # nothing half-applied
        self.assertFalse(self.stripe_movements())

    def test_a_flat_priced_plan_keeps_its_seats(self):
        self.sub.seats = 20
        flat = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000, quantity=1),
            created=1790000000,
            previous={"items": stripe_subscription(unit_amount=10000)["items"]},
        )
        self.assertEqual(self.post(flat).status_code, 200)
        self.process()
        self.assertAlmostEqual(self.sub.mrr, 150.0)
        self.assertEqual(self.sub.seats, 20)
        per_seat = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=1000, quantity=15),
            created=1790000100,
            previous={"items": stripe_subscription(unit_amount=15000)["items"]},
        )
        self.assertEqual(self.post(per_seat).status_code, 200)
        self.process()
        self.assertEqual(self.sub.seats, 15)

    def test_plan_change_shows_the_new_plan(self):
        """The admin maps Stripe's prices to Odoo plans: a move to another price puts
        the subscription on that plan (B4 "new plan on the card")."""
        annual = self._template("years", 1, name="Pro (annual)")
        annual.cs_provider_plan_refs = "price_pro_annual, pro_yearly"
        obj = stripe_subscription(unit_amount=120000, interval="year")  # 1,200 USD a year
        obj["items"]["data"][0]["price"].update(id="price_pro_annual", lookup_key="pro_yearly")
        event = stripe_event("customer.subscription.updated", obj, created=1790000000)
        self.post(event)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertEqual(self.sub.template_id, annual)
        # The same 100 a month, now billed yearly: no MRR movement, the line at the year's price.
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertAlmostEqual(self.sub.sale_subscription_line_ids.price_unit, 1200.0)
        self.assertFalse(self.stripe_movements())
        self.assertEqual(stored.result, "Plan: months x1 → Pro (annual)")
        self.assertEqual(self.sub.seats, 1)  # the plan includes none: Stripe's quantity
        # A price nobody mapped leaves the plan as it is.
        obj["items"]["data"][0]["price"].update(id="price_other", lookup_key=None)
        obj["items"]["data"][0]["price"]["unit_amount"] = 240000
        self.post(stripe_event("customer.subscription.updated", obj, created=1790000600))
        self.process()
        self.assertEqual(self.sub.template_id, annual)
        self.assertAlmostEqual(self.sub.mrr, 200.0)

    def test_a_flat_priced_plan_brings_the_seats_it_includes(self):
        pro = self._template("months", 1, name="Pro")
        pro.write({"cs_provider_plan_refs": "price_pro", "cs_seats": 20})
        self.sub.seats = 5
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(unit_amount=15000),  # price_pro, quantity 1
                created=1790000000,
            )
        )
        self.process()
        self.assertEqual((self.sub.template_id, self.sub.seats), (pro, 20))
        # Billed per seat: Stripe's quantity, not the plan's.
        self.sub.template_id = self.monthly
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(unit_amount=1000, quantity=12),
                created=1790000100,
            )
        )
        self.process()
        self.assertEqual((self.sub.template_id, self.sub.seats), (pro, 12))
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            pro.cs_seats = -1

    def test_a_provider_plan_maps_to_one_plan(self):
        self._template("months", 1, name="Start").cs_provider_plan_refs = "price_start"
        with self.assertRaises(ValidationError):
            self._template("months", 1, name="Start 2").cs_provider_plan_refs = "x, price_start"

    def test_another_currency_is_refused_with_a_clear_error(self):
        # Stripe bills in euros a subscription Odoo keeps in dollars: no silent
        # conversion of revenue; the event waits with the fix named.
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000, currency="eur"),
            created=1790000000,
        )
        self.post(event)
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual((stored.state, stored.attempts), ("received", 1))
        self.assertIn("Stripe bills", stored.error)
        self.assertIn("in EUR, Odoo in USD", stored.error)
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertFalse(self.stripe_movements())

    @staticmethod
    def partial_refunds():
        """Two partial refunds of the charge: 30.00 USD, then 70.00 more on 2026-09-21."""
        return (
            stripe_event(
                "charge.refunded",
                stripe_charge(amount_refunded=3000),
                created=1790003600,
                previous={"amount_refunded": 0, "refunded": False},
            ),
            stripe_event(
                "charge.refunded",
                stripe_charge(amount_refunded=10000),
                created=1790007200,
                previous={"amount_refunded": 3000, "refunded": False},
            ),
        )

    def test_partial_refunds_wait_for_the_accountant(self):
        self.sub.external_customer_ref = CUS_REF
        first, second = self.partial_refunds()
        for event in (first, second, second):  # the second one delivered twice
            self.assertEqual(self.post(event).status_code, 200)
        self.process()
        events = self.Event.search([("event_type", "=", "charge.refunded")], order="id")
        self.assertEqual(events.mapped("state"), ["processed", "processed"], events.mapped("error"))
        self.assertEqual(events.mapped("amount"), [-30.0, -70.0])
        self.assertTrue(all(events.mapped("to_reconcile")))
        self.assertEqual(events.subscription_id, self.sub)
        self.assertIn("refund of 70.00 USD", self.sub.message_ids[0].body)
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # a refund is not churn

    def test_a_refund_is_registered_on_its_open_credit_note(self):
        self.sub.external_customer_ref = CUS_REF
        credit_note = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": self.sub.partner_id.id,
                "subscription_id": self.sub.id,
                "currency_id": self.sub.currency_id.id,
                "invoice_date": date(2026, 9, 20),
                "invoice_line_ids": [
                    (0, 0, {"name": "Pro", "quantity": 1, "price_unit": 70.0, "tax_ids": False})
                ],
            }
        )
        credit_note.action_post()
        self.assertEqual(credit_note.amount_residual, 70.0)
        first, second = self.partial_refunds()
        for event in (first, second):
            self.assertEqual(self.post(event).status_code, 200)
        self.process()
        events = self.Event.search([("event_type", "=", "charge.refunded")], order="id")
        self.assertEqual(events.mapped("to_reconcile"), [True, False])  # 30 has no credit note
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))
        payment = events[1].payment_id
        self.assertEqual((payment.payment_type, payment.amount), ("outbound", 70.0))
        self.assertEqual(payment.date, date(2026, 9, 21))
        self.assertIn("registered on %s" % credit_note.name, events[1].result)
        self.assertFalse(events[0].payment_id)

    def test_refund_of_an_unknown_customer_waits_unmatched(self):
        event = stripe_event(
            "charge.refunded", stripe_charge(customer="cus_other"), created=1790003600
        )
        self.post(event)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "unmatched")
        self.assertIn("cus_other", stored.result)
        # Our subscription named in the charge's metadata is enough.
        named = stripe_event(
            "charge.refunded",
            stripe_charge(customer="cus_other", metadata={"subscription_ref": SUB_REF}),
            created=1790003601,
        )
        self.post(named)
        self.process()
        stored = self.Event.search([("external_id", "=", named["id"])])
        self.assertEqual((stored.state, stored.amount), ("processed", -100.0), stored.error)

    def test_trial_ending_and_payment_to_confirm_reach_the_csm(self):
        trial = stripe_subscription(status="trialing")
        trial["trial_end"] = 1790640000  # 2026-09-29
        self.post(stripe_event("customer.subscription.trial_will_end", trial, created=1790380800))
        invoice = stripe_invoice(amount_due=10000, status="open")
        self.post(stripe_event("invoice.payment_action_required", invoice, created=1790380900))
        self.process()
        events = self.Event.search([("account_id", "=", self.account.id)], order="id")
        self.assertEqual(events.mapped("state"), ["processed", "processed"], events.mapped("error"))
        summaries = self.sub.activity_ids.mapped("summary")
        self.assertIn("Trial ends: help Vostok LLP convert", summaries)
        self.assertIn("Payment to confirm: Vostok LLP", summaries)
        notes = " ".join(str(note) for note in self.sub.activity_ids.mapped("note"))
        self.assertIn("09/29/2026", notes)
        self.assertIn("100.00 USD", notes)
        self.assertEqual(self.sub.activity_ids.user_id, self.cs_user)
        # Notices, not states: the subscription itself is unchanged.
        self.assertFalse(self.sub.cs_is_trial)
        self.assertEqual(self.sub.payment_status, "none")

    def test_dispute_opened_then_lost(self):
        self.sub.external_customer_ref = CUS_REF
        self.account.api_key = "rk_test_read_charges"
        charge = stripe.Charge.construct_from(stripe_charge(amount_refunded=0), "rk")
        opened = stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600)
        self.post(opened)
        with patch.object(stripe.Charge, "retrieve", return_value=charge) as api:
            self.process()
        api.assert_called_once_with("ch_1PgafuB7WZ01zgkWXYmPNZs8", api_key="rk_test_read_charges")
        event = self.Event.search([("external_id", "=", opened["id"])])
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, self.sub)
        self.assertIn("Dispute: call Vostok LLP today", self.sub.activity_ids.mapped("summary"))
        # What the customer told their bank, in words, with Stripe's code.
        self.assertIn(
            "(the customer says what they got was faulty or not as described, "
            "product_unacceptable)",
            str(self.sub.activity_ids.note),
        )
        self.assertIn("faulty or not as described", event.result)
        lost = stripe_event(
            "charge.dispute.closed", stripe_dispute(status="lost"), created=1791000000
        )
        self.post(lost)
        with patch.object(stripe.Charge, "retrieve", return_value=charge):
            self.process()
        event = self.Event.search([("external_id", "=", lost["id"])])
        self.assertEqual((event.state, event.amount), ("processed", -100.0), event.error)
        self.assertTrue(event.to_reconcile)
        self.assertIn("Dispute lost", self.sub.message_ids[0].body)
        # The call still matters: the to-do stays, saying how the dispute ended.
        todo = self.sub.activity_ids.filtered(lambda a: a.summary.startswith("Dispute"))
        self.assertIn("The bank decided for the customer: 100.00 USD", str(todo.note))
        self.assertIn("product_unacceptable", str(todo.note))

    def test_dispute_won_closes_its_to_do(self):
        self.sub.external_customer_ref = CUS_REF
        self.account.api_key = "rk_test_read_charges"
        charge = stripe.Charge.construct_from(stripe_charge(amount_refunded=0), "rk")
        self.post(stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600))
        won = stripe_event("charge.dispute.closed", stripe_dispute(status="won"), 1791000000)
        self.post(won)
        with patch.object(stripe.Charge, "retrieve", return_value=charge):
            self.process()
        event = self.Event.search([("external_id", "=", won["id"])])
        self.assertEqual((event.state, event.amount), ("processed", 0.0), event.error)
        self.assertFalse(event.to_reconcile)
        self.assertFalse(self.sub.activity_ids)
        done = self.sub.message_ids.filtered(lambda m: "Closed by itself" in str(m.body))
        self.assertIn("Dispute closed: won (Stripe)", str(done.body))

    def test_dispute_without_api_key_waits_to_be_linked(self):
        opened = stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600)
        self.post(opened)
        self.process()
        event = self.Event.search([("external_id", "=", opened["id"])])
        self.assertEqual(event.state, "unmatched")
        self.assertIn("ch_1PgafuB7WZ01zgkWXYmPNZs8", event.result)
        event.subscription_id = self.sub
        event.action_reprocess()
        self.assertEqual(event.state, "processed", event.error)
        self.assertIn("Dispute opened", event.result)

    def test_failed_refund_is_undone_for_the_accountant_and_the_csm(self):
        self.sub.external_customer_ref = CUS_REF
        refunded = stripe_event("charge.refunded", stripe_charge(), created=1790003600)
        failed = stripe_event("refund.failed", stripe_refund(), created=1790090000)
        for event in (refunded, failed, failed):  # the failure delivered twice
            self.assertEqual(self.post(event).status_code, 200)
        self.process()
        refund = self.Event.search([("external_id", "=", refunded["id"])])
        undone = self.Event.search([("external_id", "=", failed["id"])])
        self.assertEqual(len(undone), 1)
        self.assertEqual(undone.object_ref, "ch_1PgafuB7WZ01zgkWXYmPNZs8")
        self.assertEqual(undone.state, "processed", undone.error)
        # Matched through the refund of the same charge: a refund names no customer.
        self.assertEqual(undone.subscription_id, self.sub)
        self.assertEqual((refund.amount, undone.amount), (-100.0, 100.0))
        self.assertTrue(refund.to_reconcile and undone.to_reconcile)
        self.assertFalse(undone.is_payment)  # no invoice takes it: its credit note is reversed
        self.assertIn("expired_or_canceled_card", undone.result)
        todo = self.sub.activity_ids.filtered(
            lambda a: a.summary == "Refund failed: call Vostok LLP"
        )
        self.assertEqual(len(todo), 1)
        self.assertIn("100.00 USD", str(todo.note))
        self.assertIn("Refund failed", self.sub.message_ids[0].body)
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # neither is churn

    def test_the_payload_reads_indented(self):
        event = stripe_event("customer.updated", {"id": CUS_REF, "name": "Восток \ud83d"}, 1)
        self.post(event)
        stored = self.Event.search([("external_id", "=", event["id"])])
        shown = stored.read(["payload_display"])[0]["payload_display"]
        self.assertTrue(shown.startswith('{\n  "id": "evt_customer_updated_1"'))
        self.assertIn('"name": "Восток \\ud83d"', shown)  # a lone surrogate stays escaped
        shown.encode("utf-8")  # what the browser gets
        stored.payload = "command=pay&txn_id=1"
        self.assertEqual(stored.payload_display, "command=pay&txn_id=1")

    def test_the_upgrade_to_1_7_gives_older_charge_events_their_charge(self):
        self.sub.external_customer_ref = CUS_REF
        refunded = stripe_event("charge.refunded", stripe_charge(), created=1790003600)
        opened = stripe_event("charge.dispute.created", stripe_dispute(), created=1790003700)
        waiting = stripe_event("customer.subscription.updated", stripe_subscription(), 1790003800)
        for event in (refunded, opened, waiting):
            self.post(event)
        stored = self.Event.search([("external_id", "in", [refunded["id"], opened["id"]])])
        update = self.Event.search([("external_id", "=", waiting["id"])])
        (stored | update).write({"object_ref": False, "object_status": False})  # as 1.6 did
        update.object_ref = SUB_REF  # 1.6 kept a subscription event's
        stored.flush_recordset()
        update.flush_recordset()
        load_migration("18.0.1.7.0").migrate(self.env.cr, "18.0.1.6.0")
        (stored | update).invalidate_recordset()
        self.assertEqual(set(stored.mapped("object_ref")), {"ch_1PgafuB7WZ01zgkWXYmPNZs8"})
        self.assertEqual(update.object_status, "active")

    def test_failed_refund_of_an_unknown_charge_waits_to_be_linked(self):
        failed = stripe_event("refund.failed", stripe_refund(amount=2500), created=1790090000)
        self.post(failed)
        self.process()
        event = self.Event.search([("external_id", "=", failed["id"])])
        self.assertEqual(event.state, "unmatched")
        self.assertIn("ch_1PgafuB7WZ01zgkWXYmPNZs8", event.result)
        self.assertFalse(event.to_reconcile)
        event.subscription_id = self.sub
        event.action_reprocess()
        self.assertEqual((event.state, event.amount), ("processed", 25.0), event.error)
        # Our subscription named in the refund's metadata is enough.
        named = stripe_event(
            "refund.failed",
            stripe_refund(metadata={"subscription_ref": SUB_REF}),
            created=1790090001,
            event_id="evt_refund_failed_named",
        )
        self.post(named)
        self.process()
        event = self.Event.search([("external_id", "=", named["id"])])
        self.assertEqual((event.state, event.subscription_id), ("processed", self.sub))

    def test_a_failed_refund_before_its_refund_is_applied_once_the_refund_is(self):
        self.sub.external_customer_ref = CUS_REF
        failed = stripe_event("refund.failed", stripe_refund(), created=1790090000)
        self.post(failed)
        self.process()
        undone = self.Event.search([("external_id", "=", failed["id"])])
        self.assertEqual(undone.state, "unmatched")
        self.post(stripe_event("charge.refunded", stripe_charge(), created=1790003600))
        self.process()  # the refund, matched by its customer; the failure goes back
        self.assertEqual(undone.state, "received")
        self.process()
        self.assertEqual((undone.state, undone.subscription_id), ("processed", self.sub))
        self.assertEqual(undone.amount, 100.0)

    def test_dispute_closed_finds_the_subscription_its_opening_was_linked_to(self):
        opened = stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600)
        self.post(opened)
        self.process()
        event = self.Event.search([("external_id", "=", opened["id"])])
        self.assertEqual(event.state, "unmatched")  # no API key to read the charge
        event.subscription_id = self.sub
        event.action_reprocess()
        lost = stripe_event(
            "charge.dispute.closed", stripe_dispute(status="lost"), created=1791000000
        )
        self.post(lost)
        self.process()
        closed = self.Event.search([("external_id", "=", lost["id"])])
        self.assertEqual((closed.state, closed.subscription_id), ("processed", self.sub))
        self.assertEqual(closed.amount, -100.0)

    def test_a_dispute_s_course_is_told_in_the_chatter(self):
        """Stripe holds the money back, the evidence goes in, the money comes back: each a
        note on the subscription, matched through the dispute's opening."""
        opened = stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600)
        self.post(opened)
        self.process()
        self.Event.search([("external_id", "=", opened["id"])]).subscription_id = self.sub
        self.Event.search([("external_id", "=", opened["id"])]).action_reprocess()
        course = [
            stripe_event(
                "charge.dispute.funds_withdrawn",
                stripe_dispute(status="needs_response"),
                created=1790003601,
            ),
            stripe_event(
                "charge.dispute.updated",
                stripe_dispute(status="under_review"),
                created=1790500000,
                previous={"status": "needs_response"},
            ),
            # Evidence edited, the status as it was: nothing for the CSM.
            stripe_event(
                "charge.dispute.updated",
                stripe_dispute(status="under_review"),
                created=1790500100,
                previous={"evidence": {"product_description": None}},
            ),
            stripe_event(
                "charge.dispute.funds_reinstated", stripe_dispute(status="won"), 1791000000
            ),
        ]
        for event in course:
            self.post(event)
        self.process()
        events = self.Event.search([("external_id", "in", [e["id"] for e in course])])
        results = {e.external_id: (e.state, e.subscription_id, e.result) for e in events}
        withdrawn, status, edited, returned = (results[e["id"]] for e in course)
        self.assertEqual(withdrawn[:2], ("processed", self.sub))
        self.assertEqual(
            withdrawn[2], "Dispute: Stripe holds back 100.00 USD until the bank decides"
        )
        self.assertEqual(status[2], "Dispute: evidence needed → evidence submitted, under review")
        self.assertEqual(edited[:2], ("ignored", self.sub))
        self.assertEqual(returned[2], "Dispute: Stripe returned the 100.00 USD it held back")
        notes = " ".join(str(body) for body in self.sub.message_ids.mapped("body"))
        for result in (withdrawn, status, returned):
            self.assertIn(result[2], notes)
        # Money held back is no loss and no payment: nothing for the accountant.
        self.assertFalse(events.filtered("to_reconcile") or events.filtered("amount"))
        # The opening's to-do is still there: only the closing settles it.
        self.assertIn("Dispute: call Vostok LLP today", self.sub.activity_ids.mapped("summary"))

    def test_a_dispute_update_older_than_its_closing_changes_nothing(self):
        self.sub.external_customer_ref = CUS_REF
        self.account.api_key = "rk_test_read_charges"
        charge = stripe.Charge.construct_from(stripe_charge(amount_refunded=0), "rk")
        self.post(stripe_event("charge.dispute.created", stripe_dispute(), created=1790003600))
        self.post(stripe_event("charge.dispute.closed", stripe_dispute(status="won"), 1791000000))
        with patch.object(stripe.Charge, "retrieve", return_value=charge):
            self.process()
        late = stripe_event(
            "charge.dispute.updated",
            stripe_dispute(status="under_review"),
            created=1790500000,
            previous={"status": "needs_response"},
        )
        self.post(late)
        self.process()
        event = self.Event.search([("external_id", "=", late["id"])])
        self.assertEqual(event.state, "ignored", event.error)
        self.assertIn("closing", event.result)
        self.assertNotIn("under review", " ".join(map(str, self.sub.message_ids.mapped("body"))))

    def test_the_upgrade_to_1_8_gives_stored_dispute_updates_their_charge(self):
        held = stripe_event("charge.dispute.funds_withdrawn", stripe_dispute(), 1790003601)
        self.post(held)
        stored = self.Event.search([("external_id", "=", held["id"])])
        stored.write({"object_ref": False, "state": "ignored"})  # as 1.7 stored it
        stored.flush_recordset()
        load_migration("18.0.1.8.0").migrate(self.env.cr, "18.0.1.7.0")
        stored.invalidate_recordset()
        self.assertEqual(stored.object_ref, "ch_1PgafuB7WZ01zgkWXYmPNZs8")
        # The index of a charge's events is built again with the new types.
        load_migration("18.0.1.8.0", "pre-migrate").migrate(self.env.cr, "18.0.1.7.0")
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'cs_billing_event_charge_index'"
        self.env.cr.execute(query)
        self.assertFalse(self.env.cr.fetchall())
        self.Event.init()  # as the upgrade does after its pre-migration
        self.env.cr.execute(query)
        self.assertIn("charge.dispute.funds_withdrawn", self.env.cr.fetchone()[0])

    def test_the_subscription_and_the_customer_card_lead_to_their_billing_events(self):
        self.sub.external_customer_ref = CUS_REF
        for event in (
            stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), created=1790000000),
            stripe_event("charge.refunded", stripe_charge(), created=1790003600),
        ):
            self.post(event)
        self.process()
        sub = self.sub.with_user(self.cs_user)
        self.assertEqual(sub.cs_billing_event_count, 2)
        action = sub.action_cs_view_billing_events()
        self.assertEqual(self.env["cs.billing.event"].search_count(action["domain"]), 2)
        partner = self.sub.commercial_partner_id.with_user(self.cs_user)
        self.assertEqual(partner.cs_billing_event_count, 2)
        events = (
            self.env["cs.billing.event"]
            .with_user(self.cs_user)
            .search(partner.action_view_cs_billing_events()["domain"])
        )
        self.assertEqual(set(events.mapped("event_type")), {"invoice.paid", "charge.refunded"})

    def test_a_selection_is_reprocessed_from_the_list(self):
        events = []
        for index in range(3):
            obj = stripe_subscription()
            obj["id"] = "sub_unknown_%d" % index
            event = stripe_event("customer.subscription.updated", obj, created=1790000000 + index)
            self.post(event)
            events.append(event["id"])
        self.process()
        unmatched = self.Event.search([("external_id", "in", events)])
        self.assertEqual(set(unmatched.mapped("state")), {"unmatched"})
        # The Action menu offers it to managers of customer success, not to CSMs.
        for user, offered in ((self.cs_manager, True), (self.cs_user, False)):
            bindings = (
                self.env["ir.actions.actions"].with_user(user).get_bindings("cs.billing.event")
            )
            names = [action["name"] for action in bindings.get("action", [])]
            self.assertEqual("Reprocess" in names, offered, user.login)
        # Two linked to the subscription apply, the third still matches nothing.
        unmatched[:2].subscription_id = self.sub
        answer = unmatched.with_user(self.cs_manager).action_reprocess_selected()
        self.assertEqual(answer["params"]["type"], "warning")
        self.assertIn(
            "Reprocessed: 3. Applied or ignored: 2, unmatched: 1", answer["params"]["message"]
        )
        self.assertEqual(unmatched.mapped("state").count("unmatched"), 1)
        # A selection larger than a chunk goes to the inbox job instead.
        with patch.object(cs_billing_event, "CHUNK", 1):
            answer = unmatched.with_user(self.cs_manager).action_reprocess_selected()
        self.assertIn("in the background: 2.", answer["params"]["message"])
        self.assertEqual(
            unmatched.filtered(lambda e: e.state != "processed").mapped("state"),
            ["received", "received"],
        )
        cron = self.env.ref("customer_success.ir_cron_billing_events")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        done = self.Event.search([("state", "=", "processed")], limit=1)
        answer = done.action_reprocess_selected()
        self.assertIn("Nothing to reprocess", answer["params"]["message"])

    def test_a_body_postgresql_cannot_read_as_json_is_applied_all_the_same(self):
        # JSON allows escapes (NUL, a lone surrogate) that PostgreSQL's jsonb refuses:
        # the inbox never casts a stored body to JSON in SQL.
        events = []
        for amount, offset in ((15000, 0), (20000, 60)):
            obj = stripe_subscription(unit_amount=amount)
            obj["metadata"] = {"note": "a\u0000b \ud83d"}
            events.append(stripe_event("customer.subscription.updated", obj, 1790000000 + offset))
        for event in events:
            self.assertEqual(self.post(event).status_code, 200)
        self.process()
        stored = [self.Event.search([("external_id", "=", e["id"])]) for e in events]
        self.assertEqual([e.state for e in stored], ["ignored", "processed"], stored[1].error)
        self.assertEqual(stored[1].object_status, "active")
        self.assertAlmostEqual(self.sub.mrr, 200.0)

    def test_newer_state_of_the_same_day_supersedes_older_ones(self):
        # A burst of quantity changes: the inbox applies the day's newest state once.
        events = [
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(unit_amount=amount),
                created=1790000000 + offset,
            )
            for amount, offset in ((15000, 0), (20000, 60), (25000, 120))
        ]
        for event in events:
            self.post(event)
        self.process()
        states = [self.Event.search([("external_id", "=", e["id"])]).state for e in events]
        self.assertEqual(states, ["ignored", "ignored", "processed"])
        first = self.Event.search([("external_id", "=", events[0]["id"])])
        self.assertIn(events[2]["id"], first.result)
        self.assertAlmostEqual(self.sub.mrr, 250.0)
        movement = self.stripe_movements()
        self.assertEqual((movement.movement_type, movement.amount), ("expansion", 150.0))
        self.assertEqual(len(self.sub.activity_ids), 1)
        # Another day is another state of the ledger: not superseded.
        later = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=30000),
            created=1790000000 + 86400,
        )
        self.post(later)
        self.process()
        self.assertEqual(len(self.stripe_movements()), 2)
        # The open "Upgrade" to-do is brought up to date, not doubled.
        self.assertEqual(len(self.sub.activity_ids), 1)
        self.assertIn("300", str(self.sub.activity_ids.note))

    def test_superseded_cancellation_notice_still_reaches_the_csm(self):
        notice = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(cancel_at_period_end=True),
            created=1790000000,
            previous={"cancel_at_period_end": False},
        )
        price = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=12000, cancel_at_period_end=True),
            created=1790000300,
            previous={"items": stripe_subscription()["items"]},
        )
        self.post(notice)
        self.post(price)
        self.process()
        self.assertEqual(self.Event.search([("external_id", "=", notice["id"])]).state, "ignored")
        self.assertTrue(self.sub.cs_cancel_scheduled)
        summaries = self.sub.activity_ids.mapped("summary")
        self.assertTrue(any("Cancellation scheduled" in s for s in summaries), summaries)

    def test_downgrade_asks_for_an_urgent_call(self):
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=6000),
            created=1790000000,
        )
        self.post(event)
        self.process()
        self.assertEqual(self.stripe_movements().movement_type, "contraction")
        activity = self.sub.activity_ids
        self.assertIn("Downgrade", activity.summary)
        self.assertEqual(activity.date_deadline, fields.Date.today())

    def test_same_event_three_times_one_effect(self):
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000),
            created=1790000000,
        )
        answers = [self.post(event).json() for _ in range(3)]
        self.assertEqual([a["duplicate"] for a in answers], [False, True, True])
        self.assertEqual(len({a["id"] for a in answers}), 1)
        self.process()
        self.post(event)
        self.process()
        self.assertEqual(len(self.stripe_movements()), 1)
        self.assertEqual(self.Event.search_count([("external_id", "=", event["id"])]), 1)

    def test_same_event_on_two_concurrent_connections(self):
        event = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000),
            created=1790000000,
        )
        body = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_adapter.sign(body, SECRET),
        }
        answers = []

        def send():
            answers.append(
                requests.post(self.base_url() + self.url, data=body, headers=headers, timeout=30)
            )

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([a.status_code for a in answers], [200, 200])
        self.assertEqual(sorted(a.json()["duplicate"] for a in answers), [False, True])
        self.process()
        self.assertEqual(len(self.stripe_movements()), 1)

    def test_updated_before_created(self):
        created = stripe_event(
            "customer.subscription.created",
            stripe_subscription(unit_amount=10000),
            created=1790000000,
        )
        updated = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000),
            created=1790000500,
        )
        self.post(updated)
        self.process()
        self.post(created)
        self.process()
        self.assertAlmostEqual(self.sub.mrr, 150.0)
        late = self.Event.search([("external_id", "=", created["id"])])
        self.assertEqual(late.state, "ignored")
        self.assertIn("Older", late.result)

    def test_replayed_and_forged_requests_change_nothing(self):
        event = stripe_event(
            "customer.subscription.deleted",
            stripe_subscription(status="canceled"),
            created=1790000000,
        )
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            replay = self.post(event, timestamp=time.time() - 301)
            forged = self.post(event, secret="whsec_attacker")
            unsigned = self.post(event, headers={"Stripe-Signature": None})
            wrong_type = self.post(event, headers={"Content-Type": "text/plain"})
            no_account = self.post(event, url="/customer_success/webhook/stripe/999999")
            other_provider = self.post(
                event, url="/customer_success/webhook/yookassa/%d" % self.account.id
            )
            broken = self.post(None, body=b'{"id": "evt_1", "type": ')
            huge = self.post(None, body=b"{" + b" " * (1024 * 1024 + 10) + b"}")
        self.assertEqual(
            [
                r.status_code
                for r in (
                    replay,
                    forged,
                    unsigned,
                    wrong_type,
                    no_account,
                    other_provider,
                    broken,
                    huge,
                )
            ],
            [401, 401, 401, 400, 404, 404, 400, 413],
        )
        self.assertIn("Timestamp", replay.json()["error"])
        self.assertFalse(self.Event.search([("account_id", "=", self.account.id)]))
        self.assertEqual(self.sub.stage_id, self.stage_running)

    def test_signed_nonsense_is_refused_not_a_server_error(self):
        """Signed by the account's secret but not storable: 400 with the reason."""
        good = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        cases = [
            ({"id": "evt_\u0000"}, "'id' must be printable"),
            ({"id": "evt_\ud83d"}, "'id' must be printable"),
            ({"id": ["evt_1"]}, "'id' must be text"),
            ({"id": "evt_" + "x" * 300}, "'id' must be printable"),
            ({"type": {"invoice": "paid"}}, "'type' must be text"),
            ({"created": "yesterday"}, "'created' must be a Unix time"),
            ({"created": 10**30}, "'created' is not a date"),
            ({"data": "invoice"}, "'data.object' is required"),
        ]
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for change, message in cases:
                with self.subTest(change=change):
                    response = self.post(dict(good, **change))
                    self.assertEqual(response.status_code, 400)
                    self.assertIn(message, response.json()["error"])
        self.assertFalse(self.Event.search([("account_id", "=", self.account.id)]))
        # An id of the wrong shape inside the object reads as missing: the event waits
        # for a user to link it, with the reason, instead of failing.
        odd = stripe_invoice(amount_paid=10000)
        odd["parent"] = "sub_in_a_string"
        odd["customer"] = {"id": "cus_\u0000"}
        self.assertEqual(self.post(stripe_event("invoice.paid", odd, 1790000000)).status_code, 200)
        self.process()
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "unmatched")
        self.assertFalse(event.error)

    def test_ip_allowlist(self):
        self.account.ip_allowlist = "10.0.0.0/8"
        event = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            self.assertEqual(self.post(event).status_code, 403)
        self.account.ip_allowlist = "127.0.0.0/8\n::1"
        self.assertEqual(self.post(event).status_code, 200)

    def test_unknown_event_type_is_acknowledged_and_ignored(self):
        # In a Russian office the list says why in Russian, though a webhook has no language.
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        self.env.ref("base.user_admin").lang = "ru_RU"
        event = stripe_event("customer.created", {"id": CUS_REF, "object": "customer"}, 1790000000)
        self.assertEqual(self.post(event).status_code, 200)
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(
            (stored.state, stored.result),
            ("ignored", "Этот тип события Customer Success не использует."),
        )

    def test_invoice_paid_pays_the_invoice(self):
        invoice = self._posted_invoice(self.sub, 100.0)
        event = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        self.post(event)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertTrue(stored.payment_id)
        self.assertFalse(stored.to_reconcile)
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertEqual(self.sub.amount_due, 0.0)

    def test_a_payment_and_a_movement_are_dated_by_the_company_s_day(self):
        # 21:30 UTC on 30 September is 02:30 on 1 October in Almaty: October's payment
        # and October's expansion for a company there.
        self.company.partner_id.tz = "Asia/Almaty"
        invoice = self._posted_invoice(self.sub, 100.0)
        late = 1790803800  # 2026-09-30 21:30 UTC
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), late))
        upgrade = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=15000),
            created=late + 60,
            previous={"items": stripe_subscription(unit_amount=10000)["items"]},
        )
        self.post(upgrade)
        self.process()
        payment = self.Event.search([("event_type", "=", "invoice.paid")]).payment_id
        self.assertEqual(payment.date, date(2026, 10, 1))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.stripe_movements().date, date(2026, 10, 1))
        # Without one on the company, the administrator's; without either, UTC's day.
        event = self.Event.search([], limit=1)
        self.company.partner_id.tz = False
        self.env.ref("base.user_admin").tz = "Asia/Almaty"
        self.assertEqual(event._event_date(), date(2026, 10, 1))
        self.env.ref("base.user_admin").tz = False
        self.assertEqual(event._event_date(), date(2026, 9, 30))

    def test_the_company_s_midnight_parts_two_states_of_a_subscription(self):
        # 18:50 and 19:10 UTC on 30 September: 23:50 and 00:10 in Almaty, two days of
        # the ledger, so the newer state does not supersede the older one.
        self.company.partner_id.tz = "Asia/Almaty"
        before = 1790794200  # 2026-09-30 18:50 UTC
        for amount, created in ((15000, before), (20000, before + 1200)):
            self.post(
                stripe_event(
                    "customer.subscription.updated",
                    stripe_subscription(unit_amount=amount),
                    created=created,
                )
            )
        self.process()
        self.assertEqual(
            [(m.date, m.amount) for m in self.stripe_movements()],
            [(date(2026, 9, 30), 50.0), (date(2026, 10, 1), 50.0)],
        )

    def test_unmatched_payment_waits_to_be_reconciled(self):
        event = stripe_event("invoice.paid", stripe_invoice(amount_paid=4200), 1790000000)
        self.post(event)
        self.process()
        stored = self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.state, "processed")
        self.assertTrue(stored.to_reconcile)
        self.assertEqual((stored.amount, stored.currency_id.name), (42.0, "USD"))
        stored.action_mark_reconciled()
        self.assertFalse(stored.to_reconcile)

    def test_payment_failed(self):
        invoice = stripe_invoice(amount_due=10000, status="open", attempt_count=2)
        invoice["next_payment_attempt"] = 1790086400  # Stripe retries on 2026-09-22
        invoice["hosted_invoice_url"] = "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x"
        event = stripe_event("invoice.payment_failed", invoice, 1790000000)
        self.post(event)
        self.process()
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertEqual(self.sub.amount_due, 100.0)
        self.assertIn("Payment failed", self.sub.activity_ids.summary)
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertTrue(mail)
        self.assertIn(self.customer, mail.recipient_ids)
        # The client is told when Stripe tries again.
        self.assertIn("We will try again on", mail.body_html)
        self.assertIn("09/22/2026", mail.body_html)
        # ... and where to pay at once: Stripe's page of the invoice.
        self.assertIn('href="https://invoice.stripe.com/i/acct_1/test_YWNjdF8x"', mail.body_html)
        self.assertNotIn("we will send you a link", mail.body_html)
        self.assertEqual(self.sub.next_payment_date, date(2026, 9, 22))
        issue = self.env.ref("customer_success.mail_activity_type_payment_issue")
        self.assertEqual(self.sub.activity_ids.activity_type_id, issue)
        # An older success arriving late does not hide the failure.
        older = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1789990000)
        self.post(older)
        self.process()
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertTrue(self.sub.activity_ids)
        # Stripe's retry goes through: nobody chases a customer who has paid.
        paid = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790086500)
        self.post(paid)
        self.process()
        self.sub.invalidate_recordset()
        self.assertEqual(self.sub.payment_status, "paid")
        # Revenue won back: Billing Events, filter Recovered payments.
        self.assertTrue(self.Event._stored(self.account, paid["id"]).recovered)
        self.assertFalse(self.Event._stored(self.account, older["id"]).recovered)
        self.assertFalse(self.sub.activity_ids)
        done = self.sub.message_ids.filtered(lambda m: "Closed by itself" in str(m.body))
        self.assertIn("Payment of 100.00 USD (Stripe)", str(done.body))
        self.assertIn("Payment failed: Vostok LLP", str(done.body))

    def test_unpaid_since_the_first_failure_counts_in_the_health_score(self):
        """A payment failed at Stripe owes since the day of the first failure (a retry
        failing again does not move it); the health score's payment measure counts those
        days as it counts an overdue invoice's, and its critical override reads them;
        paid, it is cleared."""
        invoice = stripe_invoice(amount_due=10000, status="open", attempt_count=1)
        first = stripe_event("invoice.payment_failed", invoice, 1790000000)
        self.post(first)
        self.process()
        day = self.Event._stored(self.account, first["id"])._event_date()
        self.assertEqual(self.sub.cs_unpaid_since, day)
        retry = stripe_invoice(amount_due=10000, status="open", attempt_count=2)
        self.post(stripe_event("invoice.payment_failed", retry, 1790259200))  # 3 days on
        self.process()
        self.assertEqual(self.sub.cs_unpaid_since, day)
        Health = self.env["cs.health.model"]
        partner = self.sub.commercial_partner_id
        values = Health._metric_values(partner.ids, day + timedelta(days=20))[partner.id]
        self.assertEqual(values["overdue_days"], 20.0)
        model = self.env.ref("customer_success.cs_health_model_seed000")
        late = Health._metric_values(partner.ids, day + timedelta(days=45))[partner.id]
        self.assertEqual(
            Health._critical(model, late),
            "Unpaid for 45 days (an overdue invoice or a failed payment)",
        )
        paid = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790345600)
        self.post(paid)
        self.process()
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertFalse(self.sub.cs_unpaid_since)
        values = Health._metric_values(partner.ids, day + timedelta(days=20))[partner.id]
        self.assertEqual(values["overdue_days"], 0.0)
        # Upgrading to 1.12: a subscription owing already is owing at least since its
        # newest payment event.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sale_subscription SET payment_status = 'failed', cs_unpaid_since = NULL, "
            "cs_payment_synced_at = '2026-09-25 10:00:00' WHERE id = %s",
            [self.sub.id],
        )
        self.sub.invalidate_recordset()
        load_migration("18.0.1.12.0").migrate(self.env.cr, "18.0.1.11.0")
        self.assertEqual(self.sub.cs_unpaid_since, date(2026, 9, 25))

    def test_back_to_active_after_a_failure_is_paid_again(self):
        """Stripe makes a past_due subscription active once its invoice is paid: the card
        says paid with nothing due and the CSM's payment to-do closes, even before (or
        without) invoice.paid; that invoice.paid, arriving late, still registers the
        payment and counts as revenue won back."""
        failed = stripe_invoice(amount_due=10000, status="open", attempt_count=1)
        self.post(stripe_event("invoice.payment_failed", failed, 1790000000))
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(status="past_due"),
                1790000001,
                previous={"status": "active"},
            )
        )
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("overdue", 100.0))
        self.assertTrue(self.sub.activity_ids)
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(status="active"),
                1790086500,
                previous={"status": "past_due"},
            )
        )
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertFalse(self.sub.activity_ids)
        done = self.sub.message_ids.filtered(lambda m: "Closed by itself" in str(m.body))
        self.assertIn("Paid again: Stripe reports the subscription active", str(done.body))
        paid = stripe_event(
            "invoice.paid", stripe_invoice(amount_paid=10000, attempt_count=2), 1790086499
        )
        self.post(paid)
        self.process()
        event = self.Event._stored(self.account, paid["id"])
        self.assertEqual(event.state, "processed", event.error)
        self.assertTrue(event.recovered)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def _fail_and_go_past_due(self):
        """A failed payment of 100.00 USD, then Stripe's subscription past_due."""
        self.post(
            stripe_event(
                "invoice.payment_failed",
                stripe_invoice(amount_due=10000, status="open"),
                1790000000,
            )
        )
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(status="past_due"),
                1790000001,
                previous={"status": "active"},
            )
        )

    def test_a_debt_written_off_is_not_a_payment(self):
        """Marking the unpaid invoice uncollectible makes Stripe's past_due subscription
        active again: the card keeps the failure, and the note says it was written off."""
        self._fail_and_go_past_due()
        uncollectible = stripe_invoice(amount_due=10000, status="uncollectible", attempt_count=4)
        self.post(stripe_event("invoice.marked_uncollectible", uncollectible, 1790600000))
        active = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(status="active"),
            1790600000,
            previous={"status": "past_due"},
        )
        self.post(active)
        self.process()
        stored = self.Event._stored(self.account, active["id"])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("100.00 USD written off, not paid", stored.result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        self.assertTrue(self.sub.activity_ids)  # the CSM's payment to-do stays open
        # Paid afterwards after all: paid again.
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790700000))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_a_write_off_arriving_after_the_return_to_active_it_caused(self):
        """Stripe does not promise the order of its events: when the active state that a
        write-off caused arrives first, the subscription reads paid and the to-do closes;
        the write-off, older, still brings the failure back, with a to-do and a note."""
        self._fail_and_go_past_due()
        self.process()
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(status="active"),
                1790600001,
                previous={"status": "past_due"},
            )
        )
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertFalse(self.sub.activity_ids)
        uncollectible = stripe_event(
            "invoice.marked_uncollectible",
            stripe_invoice(amount_due=10000, status="uncollectible", attempt_count=4),
            1790600000,
        )
        self.post(uncollectible)
        self.process()
        stored = self.Event._stored(self.account, uncollectible["id"])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("100.00 USD written off, not paid", stored.result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        todo = self.sub.activity_ids
        self.assertEqual(len(todo), 1)
        self.assertIn("agree with the customer how the debt is settled", str(todo.note))
        notes = self.sub.message_ids.filtered(lambda m: "written off, not paid" in str(m.body))
        self.assertTrue(notes)
        # The newer state's time stays the one to compare with: an older failure is stale.
        self.assertEqual(self.sub.cs_payment_synced_at, datetime(2026, 9, 28, 12, 53, 21))
        # Paid afterwards after all: paid again.
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790700000))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_a_late_write_off_after_a_real_payment_changes_no_status(self):
        """A payment applied after the write-off's time is a real one: the late write-off
        is then only old news."""
        self.post(
            stripe_event(
                "invoice.payment_failed",
                stripe_invoice(amount_due=10000, status="open"),
                1790000000,
            )
        )
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790600005))
        self.process()
        late = stripe_event(
            "invoice.marked_uncollectible",
            stripe_invoice(amount_due=10000, status="uncollectible", attempt_count=4),
            1790600000,
        )
        self.post(late)
        self.process()
        self.assertEqual(self.Event._stored(self.account, late["id"]).state, "ignored")
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_a_late_active_state_does_not_hide_a_newer_failure(self):
        """Stripe does not promise the order of its events: a subscription state older
        than the failed payment already applied leaves the failure and its amount due."""
        self.post(
            stripe_event(
                "invoice.payment_failed",
                stripe_invoice(amount_due=10000, status="open", attempt_count=1),
                1790000000,
            )
        )
        self.process()
        late = stripe_event(
            "customer.subscription.updated", stripe_subscription(unit_amount=12000), 1789990000
        )
        self.post(late)
        self.process()
        self.assertEqual(self.Event._stored(self.account, late["id"]).state, "processed")
        self.assertAlmostEqual(self.sub.mrr, 120.0)  # its price still applies
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        self.assertTrue(self.sub.activity_ids.filtered(lambda a: "Payment failed" in a.summary))

    def test_failed_payments_worklist(self):
        """Billing → Failed Payments: the CSM's list of who owes what, until paid."""
        Sub = self.env["sale.subscription"].with_user(self.cs_user)
        action = (
            self.env["ir.actions.act_window"]
            .with_user(self.cs_user)
            ._for_xml_id("customer_success.sale_subscription_action_payment_problems")
        )
        views = Sub.get_views(
            [
                (action["view_id"][0], "list"),
                (False, "form"),
                (action["search_view_id"][0], "search"),
            ]
        )
        self.assertIn("MRR at Risk", views["views"]["list"]["arch"])

        def listed():
            return Sub.search(safe_eval(action["domain"]))

        self.assertNotIn(self.sub, listed())
        failed = stripe_invoice(amount_due=10000, status="open")
        self.post(stripe_event("invoice.payment_failed", failed, 1790000000))
        self.process()
        self.assertIn(self.sub, listed())
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000600))
        self.process()
        self.assertNotIn(self.sub, listed())

    def test_voided_invoice_is_no_longer_due(self):
        failed = stripe_invoice(amount_due=10000, status="open")
        self.post(stripe_event("invoice.payment_failed", failed, 1790000000))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        # Voided before the failure was known: the newer failure stands.
        late = stripe_event("invoice.voided", stripe_invoice(status="void"), 1789990000)
        self.post(late)
        self.process()
        self.assertEqual(self.Event._stored(self.account, late["id"]).state, "ignored")
        self.assertEqual(self.sub.payment_status, "failed")
        voided = stripe_event("invoice.voided", stripe_invoice(status="void"), 1790000600)
        self.post(voided)
        self.process()
        event = self.Event._stored(self.account, voided["id"])
        self.assertEqual(event.state, "processed")
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertIn("INV-0001 voided", str(self.sub.message_ids.mapped("body")))
        self.assertFalse(self.sub.activity_ids)  # nothing is due: the to-do is done
        # Another invoice voided while nothing is due changes nothing.
        again = stripe_event("invoice.voided", stripe_invoice(status="void"), 1790001200)
        self.post(again)
        self.process()
        self.assertEqual(self.Event._stored(self.account, again["id"]).state, "ignored")

    def test_voiding_the_debt_of_a_cancelled_subscription(self):
        """Stripe cancels after the failed retries, then the open invoice is voided: the
        debt goes and its payment to-do with it; the subscription stays cancelled."""
        failed = stripe_invoice(amount_due=10000, status="open")
        self.post(stripe_event("invoice.payment_failed", failed, 1790000000))
        self.post(
            stripe_event(
                "customer.subscription.deleted", stripe_subscription(status="canceled"), 1790000600
            )
        )
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("cancelled", 100.0))
        self.assertTrue(self.sub.activity_ids.filtered(lambda a: "Payment" in a.summary))
        voided = stripe_event("invoice.voided", stripe_invoice(status="void"), 1790000601)
        self.post(voided)
        self.process()
        event = self.Event._stored(self.account, voided["id"])
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("cancelled", 0.0))
        self.assertFalse(self.sub.activity_ids.filtered(lambda a: "Payment" in a.summary))
        self.assertIn("Exit interview", self.sub.activity_ids.summary)

    def test_voiding_one_of_two_unpaid_invoices_keeps_the_other_due(self):
        self.sub.write({"payment_status": "overdue", "amount_due": 250.0})
        self.post(stripe_event("invoice.voided", stripe_invoice(status="void"), 1790000000))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("overdue", 150.0))
        # A voided invoice that reads as zero-value still tells its total.
        zeroed = stripe_invoice(amount_due=0, status="void")
        zeroed.update({"id": "in_2", "number": "INV-0002", "total": 15000})
        self.post(stripe_event("invoice.voided", zeroed, 1790000600))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_unmatched_invoice_proposes_the_customers_subscription(self):
        # A Stripe subscription Odoo does not know yet, of a customer Odoo knows.
        self.sub.external_customer_ref = CUS_REF
        unknown = stripe_invoice(amount_paid=10000)
        unknown["parent"]["subscription_details"]["subscription"] = "sub_not_in_odoo"
        self.post(stripe_event("invoice.paid", unknown, 1790000000))
        self.process()
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "unmatched")
        self.assertEqual(event.candidate_subscription_ids, self.sub)
        # The same with the customer expanded into its object (``expand[]=customer``).
        unknown["customer"] = {"id": CUS_REF, "object": "customer"}
        self.post(stripe_event("invoice.paid", unknown, 1790000100))
        self.process()
        expanded = self.Event.search([("account_id", "=", self.account.id)]) - event
        self.assertEqual(expanded.state, "unmatched")
        self.assertEqual(expanded.candidate_subscription_ids, self.sub)

    def test_cancellation_is_churn_with_exit_interview(self):
        obj = stripe_subscription(status="canceled")
        obj["cancellation_details"] = {
            "feedback": "too_expensive",
            "comment": "Budget cut",
            "reason": "cancellation_requested",
        }
        self.post(stripe_event("customer.subscription.deleted", obj, 1790000000))
        self.process()
        self.assertEqual(self.sub.stage_id.type, "post")
        self.assertEqual(self.stripe_movements().movement_type, "churn")
        self.assertEqual(self.sub.payment_status, "cancelled")
        self.assertIn("Exit interview", self.sub.activity_ids.summary)
        self.assertIn("too_expensive", self.sub.activity_ids.note)

    def test_a_late_failure_of_a_cancelled_subscription_emails_nobody(self):
        """An older failed payment delivered after the cancellation is history: no
        failure status, no to-do, no email to a client who has left."""
        self.post(
            stripe_event(
                "customer.subscription.deleted", stripe_subscription(status="canceled"), 1790000000
            )
        )
        self.process()
        late = stripe_event(
            "invoice.payment_failed",
            stripe_invoice(amount_due=10000, status="open", attempt_count=1),
            1789990000,
        )
        self.post(late)
        self.process()
        event = self.Event._stored(self.account, late["id"])
        self.assertEqual(event.state, "ignored")
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("cancelled", 0.0))
        self.assertFalse(self.sub.activity_ids.filtered(lambda a: "Payment" in a.summary))
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertFalse(mail)

    def test_trial_conversion_brings_mrr_back(self):
        self.sub.write({"cs_is_trial": True})  # trial: not MRR (a churn movement from odoo)
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(status="active"),
                1790000000,
                previous={"status": "trialing"},
            )
        )
        self.process()
        self.assertFalse(self.sub.cs_is_trial)
        self.assertEqual(self.stripe_movements().movement_type, "reactivation")
        self.assertAlmostEqual(self.sub.mrr, 100.0)

    def test_unpaid_is_delinquent_churn_until_paid(self):
        self.post(
            stripe_event(
                "customer.subscription.updated", stripe_subscription(status="unpaid"), 1790000000
            )
        )
        self.post(
            stripe_event(
                "customer.subscription.updated", stripe_subscription(status="active"), 1790000900
            )
        )
        self.process()
        churn, back = self.stripe_movements()
        self.assertEqual((churn.movement_type, churn.churn_kind), ("churn", "delinquent"))
        self.assertEqual(back.movement_type, "reactivation")
        self.assertFalse(self.sub.cs_delinquent)

    def test_paused_counts_no_mrr_until_it_resumes(self):
        """Stripe's status paused (a trial that ended without a card, or a pause): nothing
        is billed, so no MRR; the CSM is told; resuming brings the MRR back."""
        paused = stripe_event(
            "customer.subscription.paused",
            stripe_subscription(status="paused"),
            1790000000,
            previous={"status": "active"},
        )
        self.post(paused)
        self.process()
        stored = self.Event._stored(self.account, paused["id"])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("Paused: no MRR until it resumes (MRR -100.00)", stored.result)
        self.assertTrue(self.sub.cs_paused)
        self.assertEqual(self.sub.mrr, 0.0)
        self.assertEqual(self.sub.stage_id.type, "in_progress")
        churn = self.stripe_movements()
        self.assertEqual((churn.movement_type, churn.amount), ("churn", -100.0))
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Subscription paused: Vostok LLP")
        self.assertEqual(todo.user_id, self.cs_user)
        # The same state again (Stripe's .updated beside .paused) adds nothing.
        self.post(
            stripe_event(
                "customer.subscription.updated", stripe_subscription(status="paused"), 1790000001
            )
        )
        self.process()
        self.assertEqual(len(self.stripe_movements()), 1)
        self.assertEqual(len(self.sub.activity_ids), 1)
        resumed = stripe_event(
            "customer.subscription.resumed",
            stripe_subscription(status="active"),
            1790600000,
            previous={"status": "paused"},
        )
        self.post(resumed)
        self.process()
        self.assertIn(
            "Resumed, MRR +100.00", self.Event._stored(self.account, resumed["id"]).result
        )
        self.assertFalse(self.sub.cs_paused)
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertEqual(self.stripe_movements()[-1].movement_type, "reactivation")

    def test_a_trial_paused_without_a_card_was_never_mrr(self):
        self.sub.write({"cs_is_trial": True})
        before = len(self.movements())
        self.post(
            stripe_event(
                "customer.subscription.paused",
                stripe_subscription(status="paused"),
                1790000000,
                previous={"status": "trialing"},
            )
        )
        self.process()
        self.assertEqual((self.sub.cs_is_trial, self.sub.cs_paused), (False, True))
        self.assertEqual(len(self.movements()), before)  # no MRR before, none now
        self.post(
            stripe_event(
                "customer.subscription.resumed",
                stripe_subscription(status="active"),
                1790600000,
                previous={"status": "paused"},
            )
        )
        self.process()
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertEqual(len(self.movements()), before + 1)

    def test_a_paused_collection_keeps_the_mrr_and_tells_the_csm(self):
        """Stripe's pause_collection (a grace period): the subscription stays active and
        the customer keeps the service, so the MRR counts; the CSM gets a to-do saying
        what Stripe does with the invoices and until when; resuming is noted."""
        paused = stripe_subscription()
        paused["pause_collection"] = {"behavior": "void", "resumes_at": 1794744000}
        event = stripe_event(
            "customer.subscription.updated",
            paused,
            1790000000,
            previous={"pause_collection": None},
        )
        self.post(event)
        self.process()
        stored = self.Event._stored(self.account, event["id"])
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertIn("Payment collection paused until 11/15/2026", stored.result)
        self.assertIn("voided", stored.result)
        self.assertTrue(self.sub.cs_collection_paused)
        self.assertEqual(self.sub.cs_collection_resumes_on, date(2026, 11, 15))
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        self.assertFalse(self.stripe_movements())
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Payment collection paused: Vostok LLP")
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn("this time is free", str(todo.note))
        self.assertIn("Payment collection paused", self.sub.message_ids[0].body)
        # Found by the filters of Subscriptions and Accounts, as a click finds it.
        for view, model, record in (
            ("sale_subscription_view_search", "sale.subscription", self.sub),
            ("res_partner_view_search_cs", "res.partner", self.sub.commercial_partner_id),
        ):
            found = self.search_filter(view, model, "collection_paused")
            self.assertIn(record, found())
        # A price change while paused: the grace period goes on, no second to-do.
        still = stripe_subscription(unit_amount=12000)
        still["pause_collection"] = paused["pause_collection"]
        self.post(stripe_event("customer.subscription.updated", still, 1790000100))
        self.process()
        self.assertTrue(self.sub.cs_collection_paused)
        self.assertAlmostEqual(self.sub.mrr, 120.0)
        self.assertEqual(
            self.sub.activity_ids.mapped("summary").count("Payment collection paused: Vostok LLP"),
            1,
        )
        resumed = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(unit_amount=12000),
            1794744100,
            previous={"pause_collection": paused["pause_collection"]},
        )
        self.post(resumed)
        self.process()
        self.assertIn(
            "Payment collection resumed", self.Event._stored(self.account, resumed["id"]).result
        )
        self.assertFalse(self.sub.cs_collection_paused)
        self.assertFalse(self.sub.cs_collection_resumes_on)
        self.assertNotIn(
            self.sub.commercial_partner_id,
            self.search_filter("res_partner_view_search_cs", "res.partner", "collection_paused")(),
        )

    def pause_collection(self, behavior, created=1790000000, resumes_at=1794744000):
        """Stripe's state of the subscription with collection paused; the stored event."""
        obj = stripe_subscription()
        obj["pause_collection"] = {"behavior": behavior, "resumes_at": resumes_at}
        event = stripe_event("customer.subscription.updated", obj, created)
        self.post(event)
        self.process()
        self.assertTrue(self.sub.cs_collection_paused)
        return self.Event._stored(self.account, event["id"])

    def test_a_collection_paused_with_drafts_until_resumed_by_hand(self):
        result = self.pause_collection("keep_as_draft", resumes_at=None).result
        self.assertIn("until it is resumed", result)
        self.assertIn("kept as drafts, to be collected when it resumes", result)
        self.assertFalse(self.sub.cs_collection_resumes_on)

    def test_a_pause_ends_on_its_resume_date_when_stripe_does_not_say_so(self):
        """Stripe resumes collection at resumes_at by itself; if its event is lost, the
        daily job ends the pause the day after, with a note. Without a resume date the
        pause lasts until someone resumes it."""
        Sub = self.env["sale.subscription"]
        self.pause_collection("keep_as_draft")  # until 2026-11-15
        Sub._cron_customer_success_daily(today=date(2026, 11, 15))
        self.assertTrue(self.sub.cs_collection_paused)
        Sub._cron_customer_success_daily(today=date(2026, 11, 16))
        self.assertFalse(self.sub.cs_collection_paused)
        self.assertFalse(self.sub.cs_collection_pause_behavior)
        self.assertFalse(self.sub.cs_collection_resumes_on)
        self.assertIn(
            "Payment collection resumed on 11/15/2026, the date Stripe was given",
            self.sub.message_ids[0].body,
        )
        self.assertAlmostEqual(self.sub.mrr, 100.0)
        # Stripe's own word arrives late: nothing more to say about the pause.
        late = stripe_event("customer.subscription.updated", stripe_subscription(), 1794744100)
        self.post(late)
        self.process()
        self.assertNotIn("collection", self.Event._stored(self.account, late["id"]).result)
        # Paused again, with no resume date: the daily job leaves it alone.
        self.pause_collection("keep_as_draft", created=1795000000, resumes_at=None)
        Sub._cron_customer_success_daily(today=date(2027, 6, 1))
        self.assertTrue(self.sub.cs_collection_paused)

    def test_a_retry_failing_in_a_grace_period_emails_nobody(self):
        """Stripe still retries the invoice of before the pause; it fails: the CSM gets
        the payment to-do, the client no dunning email (the grace was agreed)."""
        self.pause_collection("keep_as_draft")
        invoice = stripe_invoice(amount_due=10000, status="open", attempt_count=3)
        invoice["created"] = 1789000000  # before the pause
        event = stripe_event("invoice.payment_failed", invoice, 1790100000)
        self.post(event)
        self.process()
        result = self.Event._stored(self.account, event["id"]).result
        self.assertIn("no email to the client: payment collection is paused", result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        issue = self.sub.activity_ids.filtered(lambda a: a.summary.startswith("Payment failed"))
        self.assertIn("paused (until 11/15/2026), so the customer got no email", str(issue.note))
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertFalse(mail)

    def test_invoices_of_a_free_pause_are_no_debt(self):
        """Collection paused with mark_uncollectible: Stripe marks every invoice of the
        pause uncollectible, by design (the time is free): nothing due, no to-do. An
        invoice of before written off meanwhile is a debt written off as always."""
        self.pause_collection("mark_uncollectible")
        self.assertEqual(self.sub.cs_collection_pause_behavior, "mark_uncollectible")
        free = stripe_invoice(amount_due=10000, status="uncollectible")
        free.update({"id": "in_free", "number": "INV-0002", "created": 1790500000})
        event = stripe_event("invoice.marked_uncollectible", free, 1790500100)
        self.post(event)
        self.process()
        result = self.Event._stored(self.account, event["id"]).result
        self.assertIn("INV-0002 of 100.00 USD marked uncollectible by the paused", result)
        self.assertIn("this time is free, nothing is due", result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertEqual(
            self.sub.activity_ids.mapped("summary"), ["Payment collection paused: Vostok LLP"]
        )
        older = stripe_invoice(amount_due=10000, status="uncollectible")
        older["created"] = 1789000000
        self.post(stripe_event("invoice.marked_uncollectible", older, 1790600000))
        self.process()
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        # Resumed: the pause's time is over, and so is its free pass.
        self.post(stripe_event("customer.subscription.updated", stripe_subscription(), 1794744100))
        self.process()
        self.assertFalse(self.sub.cs_collection_paused_since)
        self.assertFalse(self.sub.cs_collection_pause_behavior)

    def unpaid_invoice(self, invoice_id, number, amount_due, created, event_created, kind=None):
        """Stripe's event for an unpaid invoice, processed; the stored event."""
        invoice = stripe_invoice(amount_due=amount_due, status="uncollectible")
        invoice.update({"id": invoice_id, "number": number, "created": created})
        if kind:
            invoice["status"] = "open"
        event = stripe_event(kind or "invoice.marked_uncollectible", invoice, event_created)
        self.post(event)
        self.process()
        return self.Event._stored(self.account, event["id"])

    def test_a_free_pause_delivered_late_frees_its_invoices(self):
        """Stripe keeps no order between events: the invoice of a free pause marked
        uncollectible is applied first and counts as a debt (nothing tells it is free
        yet); once the older event of the pause is applied, it reads as free: nothing
        due, the payment to-do closed, both events say so."""
        debt = self.unpaid_invoice("in_free", "INV-0002", 10000, 1790500000, 1790500100)
        self.assertTrue(debt.counted_as_debt)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 100.0))
        self.assertTrue(self.sub.cs_unpaid_since)
        issue = self.sub.activity_ids.filtered(lambda a: a.summary == "Payment failed: Vostok LLP")
        self.assertTrue(issue)
        pause = self.pause_collection("mark_uncollectible")  # created 1790000000: older
        self.assertIn(
            "Invoices INV-0002 are of the paused collection: free, not debts written off",
            pause.result,
        )
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertFalse(self.sub.cs_unpaid_since)
        self.assertFalse(issue.exists())  # done
        self.assertFalse(debt.counted_as_debt)
        self.assertIn("INV-0002 of 100.00 USD marked uncollectible by the paused", debt.result)
        self.assertIn("this time is free, nothing is due", debt.result)
        # A later state of the same pause: nothing left to re-read.
        again = stripe_subscription(unit_amount=12000)
        again["pause_collection"] = {"behavior": "mark_uncollectible", "resumes_at": 1794744000}
        event = stripe_event("customer.subscription.updated", again, 1790000050)
        self.post(event)
        self.process()
        self.assertNotIn("free", self.Event._stored(self.account, event["id"]).result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))

    def test_a_late_free_pause_leaves_a_failure_of_before_standing(self):
        """A payment of before the pause failed, then an invoice of the pause counted as
        a debt: the pause frees the second, the first still stands with its amount."""
        self.unpaid_invoice(
            "in_old", "INV-0001", 5000, 1789000000, 1789500000, kind="invoice.payment_failed"
        )
        self.assertEqual(self.sub.amount_due, 50.0)
        self.unpaid_invoice("in_free", "INV-0002", 10000, 1790500000, 1790500100)
        self.assertEqual(self.sub.amount_due, 100.0)
        pause = self.pause_collection("mark_uncollectible")
        self.assertIn("INV-0002 are of the paused collection", pause.result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 50.0))
        self.assertIn("Payment failed: Vostok LLP", self.sub.activity_ids.mapped("summary"))

    def schedule_cancellation(self):
        """The customer cancels at the end of the paid period (cancel_at_period_end)."""
        self.post(
            stripe_event(
                "customer.subscription.updated",
                stripe_subscription(cancel_at_period_end=True),
                1790000000,
                previous={"cancel_at_period_end": False},
            )
        )
        self.process()

    def test_scheduled_cancellation(self):
        self.schedule_cancellation()
        self.assertIn("Cancellation scheduled", self.sub.activity_ids.summary)
        self.assertEqual(self.sub.stage_id.type, "in_progress")
        self.assertTrue(self.sub.cs_cancel_scheduled)
        # The Accounts and Subscriptions filters find it while it runs.
        accounts = self.search_filter("res_partner_view_search_cs", "res.partner")
        subscriptions = self.search_filter("sale_subscription_view_search", "sale.subscription")
        self.assertIn(self.customer, accounts())
        self.assertEqual(subscriptions(), self.sub)
        # The period ends: the exit interview replaces the to-do to talk before it ends.
        self.post(
            stripe_event(
                "customer.subscription.deleted",
                stripe_subscription(status="canceled", cancel_at_period_end=True),
                1798761600,
            )
        )
        self.process()
        self.assertEqual(self.sub.stage_id.type, "post")
        self.assertEqual(self.sub.activity_ids.mapped("summary"), ["Exit interview: Vostok LLP"])
        done = self.sub.message_ids.filtered(lambda m: "Closed by itself" in str(m.body))
        self.assertIn("Cancelled", str(done.body))
        self.assertNotIn(self.customer, accounts())
        self.assertFalse(subscriptions())
        self.assertFalse(self.sub.cs_cancel_scheduled)  # it happened

    def search_filter(self, view, model, name="cancel_scheduled"):
        """A function searching ``model`` with the domain of filter ``name`` of search
        view ``view``, as the user's click does."""
        arch = etree.fromstring(self.env.ref("customer_success.%s" % view).arch)
        domain = safe_eval(arch.xpath("//filter[@name='%s']" % name)[0].get("domain"))
        return lambda: self.env[model].search(domain)

    def test_a_withdrawn_cancellation_closes_its_to_do(self):
        """The customer changed their mind (cancel_at_period_end true → false): the CSM's
        to-do is done by itself and the subscription's chatter says so."""
        self.schedule_cancellation()
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Cancellation scheduled: Vostok LLP")
        withdrawn = stripe_event(
            "customer.subscription.updated",
            stripe_subscription(),
            1790000100,
            previous={"cancel_at_period_end": True},
        )
        self.post(withdrawn)
        self.process()
        self.assertEqual(
            self.Event._stored(self.account, withdrawn["id"]).result,
            "Cancellation withdrawn: the subscription goes on",
        )
        self.assertFalse(self.sub.cs_cancel_scheduled)
        self.assertFalse(self.sub.activity_ids)
        self.assertFalse(todo.exists())  # done, into the chatter
        done = self.sub.message_ids.filtered(lambda m: "Closed by itself" in str(m.body))
        self.assertIn("Cancellation withdrawn", str(done.body))

    def test_a_cancellation_on_a_day_of_the_customers_own(self):
        """Stripe's cancel_at (cancel on a custom date, not at the period's end) is a
        scheduled cancellation too, with its own day in the CSM's to-do."""
        obj = stripe_subscription()
        obj["cancel_at"] = 1794744000
        self.post(stripe_event("customer.subscription.updated", obj, 1790000000))
        self.process()
        self.assertTrue(self.sub.cs_cancel_scheduled)
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Cancellation scheduled: Vostok LLP")
        self.assertIn("set to be cancelled on 11/15/2026", str(todo.note))
        self.assertAlmostEqual(self.sub.mrr, 100.0)  # it counts until it ends

    def test_unmatched_then_linked_and_reprocessed(self):
        self.account.user_id = self.cs_manager
        stored = self.Event
        for created in (1790000000, 1790000100):
            other = stripe_subscription()
            other["id"] = "sub_unknown_%d" % created
            event = stripe_event("customer.subscription.updated", other, created)
            self.post(event)
            self.process()
            stored |= self.Event.search([("external_id", "=", event["id"])])
        self.assertEqual(stored.mapped("state"), ["unmatched", "unmatched"])
        # The account's responsible is told, by one to-do kept up to date.
        todo = self.account.activity_ids
        self.assertEqual((todo.user_id, todo.summary), (self.cs_manager, "Billing events to link"))
        self.assertIn("match no subscription: 2", todo.note)
        self.assertIn("sub_unknown_1790000100", todo.note)
        stored[0].subscription_id = self.sub
        stored[0].action_reprocess()
        self.assertEqual(stored[0].state, "processed")
        self.assertEqual(self.account.activity_ids, todo, "one event still waits")
        self.assertIn("match no subscription: 1", todo.note)  # kept true
        self.assertNotIn("sub_unknown_1790000000", todo.note)
        self.sub.with_context(cs_billing_event_id=stored[1].id).action_cs_link_billing_event()
        self.assertEqual(stored[1].state, "processed")
        # All linked: the to-do is done, and the account's chatter says so.
        self.assertFalse(self.account.activity_ids)
        self.assertIn("All of them are applied now.", self.account.message_ids[0].body)

    def test_subscription_given_its_stripe_id_gets_its_waiting_events(self):
        """Stripe's events arrive before the subscription in Odoo has its Stripe id:
        they wait unmatched, and are applied once a user enters the id."""
        other = stripe_subscription()
        other["id"] = "sub_entered_later"
        self.post(stripe_event("customer.subscription.updated", other, 1790000000))
        self.process()
        stored = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(stored.state, "unmatched")
        self.account.user_id = self.cs_manager
        stored._alert_responsible("unmatched")
        self.assertEqual(self.account.activity_ids.summary, "Billing events to link")
        self.sub.with_user(self.cs_user).external_subscription_ref = "sub_entered_later"
        self.assertEqual((stored.state, stored.subscription_id), ("processed", self.sub))
        notes = "".join(self.sub.message_ids.mapped("body"))
        self.assertIn("1 billing events that matched no subscription name this one", notes)
        self.assertFalse(self.account.activity_ids, "nothing is left to link")
        # Unrelated edits re-queue nothing.
        self.sub.external_subscription_ref = "sub_entered_later"
        self.assertEqual(stored.state, "processed")

    def test_retry_with_backoff_then_failed(self):
        event = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000)
        self.post(event)
        stored = self.Event.search([("external_id", "=", event["id"])])
        boom = RuntimeError("provider object unreadable")
        with (
            patch.object(type(self.Event), "_apply_stripe", side_effect=boom),
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
        ):
            self.process()
            self.assertEqual((stored.state, stored.attempts), ("received", 1))
            self.assertGreater(stored.next_attempt_at, fields.Datetime.now())
            for _attempt in range(4):
                stored._process()
        self.assertEqual(stored.state, "failed")
        self.assertIn("provider object unreadable", stored.error)
        stored.action_reprocess()
        self.assertEqual(stored.state, "processed")

    def test_a_signed_event_carrying_another_kind_of_object_fails_at_once(self):
        # A dispute event with the disputed charge in it: its amount would read as the
        # dispute's and its status as none; it names the wrong object instead.
        event = stripe_event("charge.dispute.created", stripe_charge(), 1790000000)
        self.assertEqual(self.post(event).status_code, 200)
        stored = self.Event.search([("external_id", "=", event["id"])])
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process()
        self.assertEqual((stored.state, stored.attempts), ("failed", 1))
        self.assertIn(
            "A charge.dispute.created event carries a 'charge' object, not a dispute.",
            stored.error,
        )
        self.assertFalse(self.sub.activity_ids.filtered(lambda a: "ispute" in a.summary))
        # Nor does a subscription update carrying an invoice go through the batch.
        events = [
            stripe_event("customer.subscription.updated", stripe_invoice(), 1790000100 + n)
            for n in range(3)
        ]
        for sent in events:
            self.post(sent)
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process()
        stored = self.Event.search([("external_id", "in", [e["id"] for e in events])])
        newest = stored.sorted("event_created")[-1]  # the older ones it supersedes
        self.assertEqual(newest.state, "failed")
        self.assertIn("carries a 'invoice' object, not a subscription", newest.error)
        self.assertNotIn("processed", stored.mapped("state"))

    def test_a_signed_event_of_unreadable_shape_fails_at_once_and_clearly(self):
        # Signed, so it is stored and acknowledged; text where Stripe sends a number.
        invoice = stripe_invoice(amount_paid=10000)
        invoice["amount_paid"] = "ten thousand"
        event = stripe_event("invoice.paid", invoice, 1790000000)
        status = self.sub.payment_status
        self.assertEqual(self.post(event).status_code, 200)
        stored = self.Event.search([("external_id", "=", event["id"])])
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process()
        # Not retried five times over an hour: the same payload fails the same way.
        self.assertEqual((stored.state, stored.attempts), ("failed", 1))
        self.assertIn("Stripe sent this event in a shape it cannot be read in", stored.error)
        self.assertIn("not retried", stored.error)
        self.assertIn("ten thousand", stored.error)  # Python's own words, for whoever fixes it
        self.assertEqual(self.sub.payment_status, status)  # nothing half-applied
        self.assertFalse(stored.payment_id or stored.to_reconcile)
        # A network failure of the same kind of exception is retried (requests' JSON
        # errors are ValueErrors and OSErrors both).
        other = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000100)
        self.post(other)
        flaky = self.Event.search([("external_id", "=", other["id"])])

        class BadGateway(OSError, ValueError):
            pass

        with (
            patch.object(type(self.Event), "_apply_stripe", side_effect=BadGateway("502")),
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
        ):
            self.process()
        self.assertEqual((flaky.state, flaky.attempts), ("received", 1))
        self.assertEqual(flaky.error, "BadGateway: 502")

    def test_the_account_shows_the_api_version_stripe_sends_in(self):
        self.assertFalse(self.account.stripe_event_api_version)  # nothing received yet
        self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000000))
        self.account.invalidate_recordset()
        self.assertEqual(self.account.stripe_event_api_version, "2025-03-31.basil")
        self.assertEqual(self.account.stripe_api_version, "2025-03-31.basil")  # no warning
        # The endpoint was made with an older version: the newest event tells it.
        older = stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), 1790000100)
        older["api_version"] = "2024-06-20"
        self.post(older)
        self.account.invalidate_recordset()
        self.assertEqual(self.account.stripe_event_api_version, "2024-06-20")
        form = Form(self.account)  # the warning is in the form the admin opens
        self.assertEqual(form.stripe_event_api_version, "2024-06-20")
        arch = self.account.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("Stripe sends this account's events in API version", arch)
        # Other providers have no such version.
        kaspi = self.env["cs.billing.account"].create({"name": "Kaspi", "provider": "kaspi"})
        self.assertFalse(kaspi.stripe_event_api_version)

    def test_failures_for_good_reach_the_account_responsible(self):
        self.account.user_id = self.cs_manager
        boom = RuntimeError("provider object unreadable")
        for created in (1790000000, 1790000100):
            self.post(stripe_event("invoice.paid", stripe_invoice(amount_paid=10000), created))
        events = self.Event.search([("account_id", "=", self.account.id)], order="id")
        with (
            patch.object(type(self.Event), "_apply_stripe", side_effect=boom),
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
        ):
            for _attempt in range(5):
                events[0]._process()
            todo = self.account.activity_ids
            self.assertEqual(
                (todo.user_id, todo.summary), (self.cs_manager, "Billing events failed")
            )
            self.assertIn("Events of Stripe USD that failed (after their retries", todo.note)
            self.assertIn("cannot be read): 1.", todo.note)
            self.assertIn("provider object unreadable", todo.note)
            for _attempt in range(5):
                events[1]._process()
        # One to-do per account, brought up to date: not one per event.
        self.assertEqual(self.account.activity_ids, todo)
        self.assertIn("cannot be read): 2.", todo.note)
        self.assertIn(events[1].external_id, todo.note)
        # Reprocessed once the cause is fixed: the to-do is done.
        events.action_reprocess()
        self.assertEqual(events.mapped("state"), ["processed", "processed"])
        self.assertFalse(self.account.activity_ids)
        # Settings changes are tracked in the account's chatter, secrets never.
        account = self.account.with_context(tracking_disable=False)  # off for the suite's speed
        account.write({"ip_allowlist": "10.0.0.0/8", "webhook_secret": "whsec_rotated"})
        self.env.cr.precommit.run()  # tracking is written when the transaction commits
        tracked = account.message_ids[0].tracking_value_ids
        self.assertEqual(tracked.field_id.mapped("name"), ["ip_allowlist"])

    def test_store_is_idempotent_per_account(self):
        event = stripe_adapter.verify(
            json.dumps(stripe_event("invoice.paid", stripe_invoice(), 5)).encode(),
            stripe_adapter.sign(
                json.dumps(stripe_event("invoice.paid", stripe_invoice(), 5)), SECRET
            ),
            SECRET,
        )
        self.assertFalse(self.account.last_event_at)
        first, new = self.Event._store(self.account, event)
        second, again = self.Event._store(self.account, event)
        self.assertEqual((new, again, first), (True, False, second))
        # The account shows when its provider last reached it.
        self.account.invalidate_recordset(["last_event_at"])
        self.assertEqual(self.account.last_event_at, first.create_date)
        other = self.env["cs.billing.account"].create({"name": "Stripe 2", "provider": "stripe"})
        third, new_elsewhere = self.Event._store(other, event)
        self.assertTrue(new_elsewhere)
        self.assertNotEqual(third, first)

    def test_secrets_for_admins_only(self):
        account = self.account.with_user(self.cs_manager)
        with self.assertRaises(AccessError):
            account.read(["webhook_secret"])
        self.assertTrue(account.webhook_url.endswith(self.url))


@tagged("post_install", "-at_install", "customer_success")
class TestStripeInboxBatch(StripeWebhookCase):
    """The inbox applies a stream of plain subscription updates as one batch, with
    the effects of one-by-one processing; everything else still goes one by one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.others = cls.env["sale.subscription"]
        for name, ref in (("Zhuldyz LLP", "sub_zhuldyz"), ("Tulpar JSC", "sub_tulpar")):
            partner = cls.env["res.partner"].create(
                {"name": name, "is_company": True, "csm_id": cls.cs_user.id}
            )
            with freeze_time("2026-03-01"):
                cls.others |= cls._subscription(
                    partner=partner,
                    price=100.0,
                    billing_account_id=cls.account.id,
                    external_subscription_ref=ref,
                )

    def update(self, sub, unit_amount, created, **kwargs):
        obj = stripe_subscription(unit_amount=unit_amount, **kwargs)
        obj["id"] = sub.external_subscription_ref
        event = stripe_event(
            "customer.subscription.updated",
            obj,
            created,
            event_id="evt_%s_%d" % (sub.external_subscription_ref, created),
        )
        self.assertEqual(self.post(event).status_code, 200)
        return self.Event.search([("external_id", "=", event["id"])])

    def store_invoice_paid(self, created):
        """Store (as the webhook does, without HTTP) an ``invoice.paid`` event with
        id ``evt_<created>``."""
        body = json.dumps(
            stripe_event("invoice.paid", stripe_invoice(), created, event_id="evt_%d" % created)
        )
        event = stripe_adapter.verify(
            body.encode(), stripe_adapter.sign(body, SECRET), SECRET, tolerance=None
        )
        return self.Event._store(self.account, event)

    def test_a_stream_of_updates_is_applied_as_one_batch(self):
        upgraded, downgraded, same = self.sub, *self.others
        (self.sub | self.others).seats = 5
        events = (
            self.update(upgraded, 15000, 1790000000)
            | self.update(downgraded, 8000, 1790000001)
            | self.update(same, 10000, 1790000002)
        )
        one_by_one = AssertionError("applied one by one")
        with patch.object(type(self.Event), "_apply_stripe", side_effect=one_by_one):
            self.process()
        self.assertEqual(events.mapped("state"), ["processed"] * 3, events.mapped("error"))
        by_sub = {event.subscription_id: event for event in events}
        self.assertEqual(by_sub[upgraded].result, "Upgrade, MRR +50.00")
        self.assertEqual(by_sub[downgraded].result, "Downgrade, MRR -20.00")
        self.assertEqual(by_sub[same].result, "Subscription synced")
        self.assertEqual(
            [event.partner_id for event in events],
            [event.subscription_id.commercial_partner_id for event in events],
        )
        self.assertEqual(
            [upgraded.mrr, downgraded.mrr, same.mrr], [150.0, 80.0, 100.0]
        )  # fmt: skip
        movements = self.env["cs.mrr.movement"].search(
            [("source", "=", "stripe"), ("subscription_id", "in", events.subscription_id.ids)]
        )
        self.assertEqual(
            sorted((m.subscription_id.id, m.movement_type, m.amount, m.date) for m in movements),
            sorted(
                [
                    (upgraded.id, "expansion", 50.0, date(2026, 9, 21)),
                    (downgraded.id, "contraction", -20.0, date(2026, 9, 21)),
                ]
            ),
        )
        self.assertIn("Upgrade", upgraded.activity_ids.summary)
        self.assertIn("Downgrade", downgraded.activity_ids.summary)
        self.assertEqual(downgraded.activity_ids.user_id, self.cs_user)
        self.assertFalse(same.activity_ids)
        self.assertEqual(events.subscription_id.mapped("seats"), [5, 5, 5])  # flat plans
        for sub, event in by_sub.items():
            self.assertEqual(sub.payment_status, "paid")
            self.assertEqual(sub.next_payment_date, date(2027, 1, 1))
            self.assertEqual(sub.cs_billing_synced_at, event.event_created)
            notes = sub.message_ids.filtered(lambda m: "Stripe" in str(m.body))
            self.assertIn(event.result, str(notes[:1].body))
        # A re-delivery of the batch changes nothing.
        self.update(upgraded, 15000, 1790000000)
        self.assertEqual(self.Event.search_count([("state", "=", "received")]), 0)

    def test_a_subscription_paid_again_leaves_the_batch(self):
        """An active state for a subscription whose payment failed closes its payment
        to-do: that goes one by one, the rest of the stream still as a batch."""
        failing, plain = self.others
        failing.write({"payment_status": "failed", "amount_due": 100.0})
        events = self.update(failing, 10000, 1790000000) | self.update(plain, 11000, 1790000001)
        batch = type(self.Event)._apply_stripe_batch
        with patch.object(
            type(self.Event), "_apply_stripe_batch", autospec=True, side_effect=batch
        ) as batched:
            self.process()
        self.assertEqual(batched.call_count, 1)
        self.assertEqual(events.mapped("state"), ["processed"] * 2, events.mapped("error"))
        self.assertEqual((failing.payment_status, failing.amount_due), ("paid", 0.0))
        self.assertIn("Paid again", events.filtered(lambda e: e.subscription_id == failing).result)
        self.assertAlmostEqual(plain.mrr, 110.0)

    def test_plan_changes_in_a_batch(self):
        enterprise = self._template("months", 1, name="Enterprise")
        enterprise.cs_provider_plan_refs = "prod_enterprise"
        moved, plain = self.sub, self.others[0]
        obj = stripe_subscription(unit_amount=30000)
        obj["id"] = moved.external_subscription_ref
        obj["items"]["data"][0]["price"].update(id="price_ent_2026", product="prod_enterprise")
        event = stripe_event("customer.subscription.updated", obj, 1790000000, event_id="evt_m")
        self.post(event)
        events = self.Event.search([("external_id", "=", "evt_m")]) | self.update(
            plain, 12000, 1790000001
        )
        one_by_one = AssertionError("applied one by one")
        with patch.object(type(self.Event), "_apply_stripe", side_effect=one_by_one):
            self.process()
        self.assertEqual(events.mapped("state"), ["processed"] * 2, events.mapped("error"))
        self.assertEqual(moved.template_id, enterprise)
        self.assertEqual(events[0].result, "Plan: months x1 → Enterprise; Upgrade, MRR +200.00")
        self.assertEqual(plain.template_id, self.monthly)
        self.assertEqual(events[1].result, "Upgrade, MRR +20.00")

    def test_repeated_subscriptions_and_transitions_go_one_by_one(self):
        # Two days of changes of one subscription (order matters), a trial that
        # converts: one by one; the plain update beside them: in the batch.
        first = self.update(self.sub, 15000, 1790000000)
        second = self.update(self.sub, 20000, 1790000000 + 86400)
        trial, plain = self.others
        trial.cs_is_trial = True
        converted = self.update(trial, 10000, 1790000005)
        synced = self.update(plain, 12000, 1790000006)
        self.process()
        self.assertEqual((first + second + converted + synced).mapped("state"), ["processed"] * 4)
        self.assertEqual(
            [m.date for m in self.stripe_movements()], [date(2026, 9, 21), date(2026, 9, 22)]
        )
        self.assertAlmostEqual(self.sub.mrr, 200.0)
        self.assertIn("Trial converted", converted.result)
        self.assertFalse(trial.cs_is_trial)
        self.assertEqual(synced.result, "Upgrade, MRR +20.00")

    def test_a_paused_or_resumed_collection_goes_one_by_one(self):
        """A grace period starting (or ending) is told to the CSM, so those events leave
        the batch; the plain update beside them stays in it."""
        paused, plain = self.others
        pause = stripe_subscription()
        pause["id"] = paused.external_subscription_ref
        pause["pause_collection"] = {"behavior": "mark_uncollectible", "resumes_at": None}
        event = stripe_event(
            "customer.subscription.updated", pause, 1790000000, event_id="evt_pause"
        )
        self.assertEqual(self.post(event).status_code, 200)
        synced = self.update(plain, 12000, 1790000001)
        self.process()
        stored = self.Event._stored(self.account, "evt_pause")
        self.assertIn("Payment collection paused until it is resumed", stored.result)
        self.assertTrue(paused.cs_collection_paused)
        self.assertEqual(paused.activity_ids.summary, "Payment collection paused: Zhuldyz LLP")
        self.assertEqual(synced.result, "Upgrade, MRR +20.00")
        # Resumed beside another plain update: one by one again, and noted.
        resumed = self.update(paused, 10000, 1790000100)
        self.update(plain, 12000, 1790000101)
        self.process()
        self.assertEqual(resumed.result, "Payment collection resumed")
        self.assertFalse(paused.cs_collection_paused)

    def test_a_cancellation_on_a_day_of_its_own_goes_one_by_one(self):
        leaving, plain = self.others
        obj = stripe_subscription()
        obj["id"] = leaving.external_subscription_ref
        obj["cancel_at"] = 1794744000
        event = stripe_event("customer.subscription.updated", obj, 1790000000, event_id="evt_cat")
        self.assertEqual(self.post(event).status_code, 200)
        synced = self.update(plain, 12000, 1790000001)
        self.process()
        self.assertEqual(
            self.Event._stored(self.account, "evt_cat").result, "Cancellation scheduled"
        )
        self.assertTrue(leaving.cs_cancel_scheduled)
        self.assertEqual(leaving.activity_ids.summary, "Cancellation scheduled: Zhuldyz LLP")
        self.assertEqual(synced.result, "Upgrade, MRR +20.00")

    def test_a_burst_of_the_same_day_is_superseded_in_the_batch(self):
        # Stripe often sends several updates of one subscription within seconds: the
        # batch applies the newest state and marks the older ones superseded, with
        # the effects of one-by-one processing (one movement for the net change).
        burst = [
            self.update(self.sub, amount, 1790000000 + n)
            for n, amount in enumerate((15000, 20000, 25000))
        ]
        # A newer state of another status waits outside the batch: the older one is not
        # superseded by it and goes one by one, after the batch.
        other, later = self.others
        other_old = self.update(other, 12000, 1790000010)
        plain = self.update(later, 11000, 1790000011)
        batch = self.Event.browse([e.id for e in burst] + [other_old.id, plain.id])
        past_due = self.update(other, 12000, 1790000020, status="past_due")
        applied = []
        original = type(self.Event)._apply_stripe

        def one_by_one(event):
            applied.append(event.external_id)
            return original(event)

        with patch.object(type(self.Event), "_apply_stripe", one_by_one):
            batch._process()
        self.assertEqual(applied, [other_old.external_id])
        self.env.invalidate_all()
        self.assertEqual([e.state for e in burst], ["ignored", "ignored", "processed"])
        for event in burst[:2]:
            self.assertEqual(
                event.result,
                "Superseded by %s, a newer state of the same day." % burst[2].external_id,
            )
            self.assertEqual(event.subscription_id, self.sub)
            self.assertEqual(event.partner_id, self.sub.commercial_partner_id)
        self.assertEqual(burst[2].result, "Upgrade, MRR +150.00")
        self.assertAlmostEqual(self.sub.mrr, 250.0)
        movement = self.stripe_movements()
        self.assertEqual((movement.movement_type, movement.amount), ("expansion", 150.0))
        self.assertEqual(len(self.sub.activity_ids), 1)
        self.assertEqual((other_old.state, plain.state), ("processed", "processed"))
        self.assertEqual(past_due.state, "received")
        self.process()
        self.assertEqual(past_due.state, "processed")
        self.assertEqual(other.payment_status, "overdue")

    def test_discounts_named_by_id_leave_the_batch(self):
        self.account.api_key = "rk_test_read_subscriptions"
        discount = {"id": "di_1", "coupon": {"percent_off": 20, "duration": "forever"}}
        answer = stripe.Subscription.construct_from(
            stripe_subscription(unit_amount=10000, discounts=[discount]), "rk"
        )
        events = self.update(self.sub, 10000, 1790000000, discounts=["di_1"]) | self.update(
            self.others[0], 8000, 1790000001
        )
        with patch.object(stripe.Subscription, "retrieve", return_value=answer) as api:
            self.process()
        self.assertEqual(events.mapped("state"), ["processed", "processed"])
        api.assert_called_once()
        self.assertAlmostEqual(self.sub.mrr, 80.0)
        self.assertAlmostEqual(self.others[0].mrr, 80.0)

    def test_a_subscription_of_many_items_leaves_the_batch(self):
        self.account.api_key = "rk_test_read_subscriptions"
        answer = stripe.Subscription.construct_from(with_add_ons(stripe_subscription(), 2), "rk")
        obj = with_add_ons(stripe_subscription(), 2, listed=2)
        event = stripe_event("customer.subscription.updated", obj, 1790000000)
        self.assertEqual(self.post(event).status_code, 200)
        events = self.update(self.others[0], 8000, 1790000001)
        with patch.object(stripe.Subscription, "retrieve", return_value=answer) as api:
            self.process()
        api.assert_called_once()
        self.assertEqual(events.state, "processed")
        self.assertAlmostEqual(self.sub.mrr, 120.0)
        self.assertAlmostEqual(self.others[0].mrr, 80.0)

    def test_a_failing_batch_falls_back_to_one_by_one(self):
        events = self.update(self.sub, 15000, 1790000000) | self.update(
            self.others[0], 8000, 1790000001
        )
        with (
            patch.object(
                type(self.Event), "_apply_stripe_batch", side_effect=RuntimeError("batch broke")
            ),
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
        ):
            self.process()
        self.assertEqual(events.mapped("state"), ["processed", "processed"])
        self.assertEqual(len(self.stripe_movements()), 1)

    def test_webhooks_wake_the_inbox_at_most_once_a_second(self):
        cron = self.env.ref("customer_success.ir_cron_billing_events")
        Trigger = self.env["ir.cron.trigger"]
        Trigger.search([("cron_id", "=", cron.id)]).unlink()

        store = self.store_invoice_paid
        with freeze_time("2026-09-21 10:00:00"):
            store(1)
            store(2)
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), 1)
        with freeze_time("2026-09-21 10:00:02"):
            store(3)
            store(1)  # a re-delivery wakes nothing
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), 2)

    def test_a_chunk_gathers_while_the_stream_lasts_and_no_longer(self):
        """Between two chunks the inbox job waits for the next one to fill: it looks
        every POLL seconds and stops waiting when a chunk is due, when the stream
        pauses, or after GATHER seconds; an empty inbox ends the wait at once."""
        sequence = iter(range(1, 1000))

        def store():
            self.store_invoice_paid(next(sequence))

        def looks(chunk, arrivals):
            """How many looks the wait takes when ``arrivals(look)`` events arrive
            during each pause before a look (a fake clock: no real sleep)."""
            clock = {"now": 0.0, "looks": 0}

            def sleep(seconds):
                clock["now"] += seconds
                clock["looks"] += 1
                for _i in range(arrivals(clock["looks"])):
                    store()

            fake_time = type("FakeTime", (), {})()
            fake_time.time = time.time
            fake_time.monotonic = lambda: clock["now"]
            fake_time.sleep = sleep
            with (
                patch.object(cs_billing_event, "time", fake_time),
                patch.object(self.env.cr, "commit", lambda: None),
            ):
                self.Event._gather(chunk, deadline=60.0)
            self.Event.search([("state", "=", "received")]).state = "processed"
            self.env.flush_all()  # the looks count in SQL
            return clock["looks"]

        poll, gather = cs_billing_event.POLL, cs_billing_event.GATHER
        self.assertEqual(looks(50, lambda look: 0), 1)  # an empty inbox
        self.assertEqual(looks(3, lambda look: 3 if look == 1 else 0), 1)  # a chunk is due
        # Two arrive, then the stream pauses: applied one look after the pause.
        self.assertEqual(looks(50, lambda look: 2 if look == 1 else 0), 2)
        # A stream that never fills a chunk: its first event waits GATHER seconds.
        self.assertEqual(looks(50, lambda look: 1), round(gather / poll) + 1)
        self.assertEqual(looks(5, lambda look: 1), 5)  # ... unless the chunk fills first

    def test_a_backlog_is_drained_in_bigger_chunks(self):
        """A chunk that comes full means a backlog: the next ones take ``drain_chunk``
        events, until a chunk comes short."""
        for number in range(1, 12):
            self.store_invoice_paid(number)
        sizes = []
        original = type(self.Event)._process_due

        def process_due(events, limit):
            sizes.append(limit)
            return original(events, limit=limit)

        with patch.object(type(self.Event), "_process_due", process_due):
            done = self.Event._cron_process_events(chunk=2, drain_chunk=5)
        self.assertEqual(done, 11)
        # 2 came full: chunks of 5, until one comes short (the last 4); then none is due.
        self.assertEqual(sizes, [2, 5, 5, 2])
        self.assertFalse(self.Event.search_count([("state", "=", "received")]))

    def test_account_changes_reach_the_webhook_at_once(self):
        # The webhook reads its account from a per-worker cache: every change of
        # the account clears it.
        event = stripe_event("invoice.paid", stripe_invoice(), int(time.time()))
        self.assertEqual(self.post(event).status_code, 200)
        self.account.webhook_secret = "whsec_rotated"
        event["id"] = "evt_after_rotation"
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            self.assertEqual(self.post(event).status_code, 401)
            self.assertEqual(self.post(event, secret="whsec_rotated").status_code, 200)
            self.account.ip_allowlist = "10.0.0.0/8"
            event["id"] = "evt_after_allowlist"
            self.assertEqual(self.post(event, secret="whsec_rotated").status_code, 403)
            self.account.ip_allowlist = False
            self.account.active = False
            self.assertEqual(self.post(event, secret="whsec_rotated").status_code, 404)
            huge = "/customer_success/webhook/stripe/%d" % 2**40
            self.assertEqual(self.post(event, url=huge).status_code, 404)


class RealConnectionsCase(TransactionCase):
    """What happens between connections: a Stripe account committed on a connection
    of its own (``self.connect``), deleted afterwards with the events and cron
    triggers the test committed."""

    def setUp(self):
        super().setUp()
        self.connect = sql_db.db_connect(self.env.cr.dbname)
        with closing(self.connect.cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            Account = env["cs.billing.account"]
            account = Account.create(
                {"name": "Stripe on connections", "provider": "stripe", "webhook_secret": SECRET}
            )
            self.account_id = account.id
            cr.execute("SELECT COALESCE(max(id), 0) FROM ir_cron_trigger")
            last_trigger = cr.fetchone()[0]
            cr.commit()
        self.addCleanup(self._delete_committed, last_trigger)

    def _delete_committed(self, last_trigger):
        with closing(self.connect.cursor()) as cr:
            cr.execute("DELETE FROM cs_billing_event WHERE account_id = %s", [self.account_id])
            cr.execute("DELETE FROM cs_billing_account WHERE id = %s", [self.account_id])
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [last_trigger])
            cr.commit()


@tagged("post_install", "-at_install", "customer_success")
class TestConcurrentStore(RealConnectionsCase):
    """The same event stored on two real connections at once: the second waits for the
    first, finds its row after it commits and answers with it (its id, its payload),
    although its own snapshot, taken before, cannot see that row."""

    def test_the_second_connection_answers_with_the_first_ones_event(self):
        connect, account_id = self.connect, self.account_id
        event = BillingEvent(
            external_id="evt_concurrent_1",
            event_type="invoice.paid",
            created=1790000000,
            payload={"id": "evt_concurrent_1", "sum": 42},
        )
        with closing(connect.cursor()) as first, closing(connect.cursor()) as second:
            second.execute("SELECT 1")  # its snapshot: before the first one commits
            first_env = api.Environment(first, SUPERUSER_ID, {})
            stored, created = first_env["cs.billing.event"]._store(
                first_env["cs.billing.account"].browse(account_id), event, state="ignored"
            )
            self.assertTrue(created)
            answers = []
            # (here: the registry's lock is the test runner's while tests run)
            env = api.Environment(second, SUPERUSER_ID, {})

            def store_again():
                record, new = env["cs.billing.event"]._store(
                    env["cs.billing.account"].browse(account_id), event, state="ignored"
                )
                answers.append((record.id, new, record._data()))

            thread = threading.Thread(target=store_again)
            thread.start()
            time.sleep(0.5)  # the second connection now waits on the unique key
            first.commit()
            thread.join(30)
            second.rollback()
        self.assertEqual(answers, [(stored.id, False, {"id": "evt_concurrent_1", "sum": 42})])


@tagged("post_install", "-at_install", "customer_success")
class TestInboxJobOnRealConnections(RealConnectionsCase):
    """The inbox job as the cron worker runs it (its own connection, a commit per
    chunk, real pauses): an event stored while it watches an empty inbox is applied
    by that same run, though no wake-up came (webhooks wake the job at most once a
    second per process) and the job's first look was taken before the event existed."""

    def test_a_watching_job_applies_an_event_stored_meanwhile(self):
        done = []
        job_cr = self.connect.cursor()
        # (the environment is made here: the registry's lock is the test runner's)
        job_env = api.Environment(job_cr, SUPERUSER_ID, {})

        def job():
            with closing(job_cr):
                done.append(
                    job_env["cs.billing.event"]._cron_process_events(budget=10.0, linger=2.0)
                )

        thread = threading.Thread(target=job)
        thread.start()
        time.sleep(0.6)  # the job has looked at the empty inbox
        body = json.dumps(stripe_event("invoice.paid", stripe_invoice(), 1790000000))
        event = stripe_adapter.verify(
            body.encode(), stripe_adapter.sign(body, SECRET), SECRET, tolerance=None
        )
        with closing(self.connect.cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            with patch.object(type(env["cs.billing.event"]), "_wake_inbox"):
                stored, _created = env["cs.billing.event"]._store(
                    env["cs.billing.account"].browse(self.account_id), event
                )
            cr.commit()
        thread.join(30)
        self.assertEqual(done, [1])
        with closing(self.connect.cursor()) as cr:
            cr.execute("SELECT state FROM cs_billing_event WHERE id = %s", [stored.id])
            self.assertNotEqual(cr.fetchone()[0], "received")
