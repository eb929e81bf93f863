# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A client's mistake never yields a server error: each provider's webhook and the
usage API get requests that are correctly signed (or authenticated) but carry values of
every wrong shape — NUL, lone surrogates, control characters, text where numbers
go, objects where text goes, absurd sizes and dates. Seeded, so a failure repeats.
"""

import json
import random
import time
from urllib.parse import urlencode

from odoo.tests import HttpCase
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..services.providers import cloudpayments_adapter
from ..services.providers import robokassa_adapter
from ..services.providers import stripe_adapter
from .common import CustomerSuccessMixin

ODD = [
    None, True, 0, -1, 1.5, 10**30, "", "\u0000", "a\u0000b", "\ud83d", "\x1b[2J", "\u202e",
    "x" * 3000, "NaN", "1e309", "-5", "2026-13-45", [], [1, "a"], {}, {"id": ["x"]},
]  # fmt: skip
ROUNDS = 40  # requests per provider


def mutate(rng, value):
    """``value`` with one field (at any depth) replaced by an odd one or dropped."""
    if isinstance(value, dict) and value:
        changed = dict(value)
        key = rng.choice(sorted(changed))
        if rng.random() < 0.15:
            changed.pop(key)
        elif rng.random() < 0.5 and isinstance(changed[key], (dict, list)):
            changed[key] = mutate(rng, changed[key])
        else:
            changed[key] = rng.choice(ODD)
        return changed
    if isinstance(value, list) and value:
        return [mutate(rng, item) for item in value]
    return rng.choice(ODD)


@tagged("post_install", "-at_install", "customer_success")
class TestWebhookFuzz(CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.rng = random.Random(20261125)
        Account = cls.env["cs.billing.account"]
        local = "127.0.0.1\n::1"
        cls.accounts = {
            "stripe": Account.create(
                {"name": "Stripe", "provider": "stripe", "webhook_secret": "whsec_fuzz"}
            ),
            "yookassa": Account.create(
                {"name": "YooKassa", "provider": "yookassa", "ip_allowlist": local}
            ),
            "cloudpayments": Account.create(
                {"name": "CloudPayments", "provider": "cloudpayments", "api_key": "cp_fuzz"}
            ),
            "robokassa": Account.create(
                {
                    "name": "Robokassa",
                    "provider": "robokassa",
                    "webhook_secret": "rk_fuzz",
                    "ip_allowlist": local,
                }
            ),
            "kaspi": Account.create(
                {
                    "name": "Kaspi",
                    "provider": "kaspi",
                    "url_token": "kaspi_fuzz_token",
                    "ip_allowlist": local,
                }
            ),
        }
        cls._subscription(
            price=100.0,
            billing_account_id=cls.accounts["stripe"].id,
            external_subscription_ref="sub_fuzz",
        )

    def url(self, provider, query=""):
        return "/customer_success/webhook/%s/%d%s" % (provider, self.accounts[provider].id, query)

    def assert_no_server_error(self, responses):
        failures = [
            (sent, r.status_code, r.text[:200]) for sent, r in responses if r.status_code >= 500
        ]
        self.assertFalse(failures)
        self.assertTrue({r.status_code for _label, r in responses} <= {200, 400, 401, 403, 404})

    def test_stripe_schedules(self):
        phase = {
            "start_date": 1798761600, "end_date": None, "currency": "usd", "discounts": [],
            "items": [{"price": "price_fuzz", "quantity": 2, "discounts": []}],
        }  # fmt: skip
        obj = {
            "id": "sub_sched_fuzz", "object": "subscription_schedule", "customer": "cus_fuzz",
            "subscription": "sub_fuzz", "status": "active",
            "current_phase": {"start_date": 1790000000, "end_date": 1798761600},
            "phases": [dict(phase, start_date=1790000000, end_date=1798761600), phase],
        }  # fmt: skip
        types = sorted(t for t in stripe_adapter.HANDLED if t.startswith("subscription_schedule."))
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            responses = []
            for index in range(ROUNDS):
                event = {
                    "id": "evt_fuzz_schedule_%d" % index,
                    "object": "event",
                    "type": self.rng.choice(types),
                    "created": 1790000000 + index,
                    "data": {"object": obj},
                }
                body = json.dumps(mutate(self.rng, event)).encode()
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": stripe_adapter.sign(body, "whsec_fuzz"),
                }
                responses.append((body, self.url_open(self.url("stripe"), body, headers=headers)))
        self.assert_no_server_error(responses)
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event", "odoo.sql_db"):
            self.env["cs.billing.event"]._process_due()
        stored = self.env["cs.billing.event"].search(
            [("account_id", "=", self.accounts["stripe"].id)]
        )
        self.assertTrue(stored.filtered(lambda e: e.state == "processed"))
        self.assertFalse(stored.filtered(lambda e: e.state == "received" and not e.error))
        for event in stored.filtered(lambda e: e.state == "failed"):
            self.assertIn("cannot be read in", event.error)

    def test_stripe(self):
        obj = {
            "id": "in_fuzz", "object": "invoice", "customer": "cus_fuzz", "currency": "usd",
            "amount_paid": 10000, "amount_due": 10000, "amount_remaining": 0, "number": "F-1",
            "parent": {"subscription_details": {"subscription": "sub_fuzz"}},
            "lines": {"data": [{"period": {"end": 1798761600}}]},
        }  # fmt: skip
        types = sorted(stripe_adapter.HANDLED)
        responses = []
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for index in range(ROUNDS):
                event = {
                    "id": "evt_fuzz_%d" % index,
                    "object": "event",
                    "type": self.rng.choice(types),
                    "created": int(time.time()),
                    "data": {"object": obj},
                }
                body = json.dumps(mutate(self.rng, event)).encode()
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": stripe_adapter.sign(body, "whsec_fuzz"),
                }
                response = self.url_open(self.url("stripe"), body, headers=headers)
                responses.append((body, response))
        self.assert_no_server_error(responses)
        # What was stored is applied, parked as unmatched or retried: the job never breaks.
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event", "odoo.sql_db"):
            self.env["cs.billing.event"]._process_due()
        stored = self.env["cs.billing.event"].search(
            [("account_id", "=", self.accounts["stripe"].id)]
        )
        self.assertTrue(stored)
        self.assertFalse(stored.filtered(lambda e: e.state == "received" and not e.error))
        # What cannot be read fails at once, saying so; the rest waits for its retries.
        for event in stored.filtered(lambda e: e.state == "failed"):
            self.assertIn("cannot be read in", event.error)
            self.assertEqual(event.attempts, 1)

    def test_yookassa(self):
        payment = {
            "id": "2d9a-fuzz", "status": "succeeded", "paid": True,
            "amount": {"value": "100.00", "currency": "RUB"},
            "metadata": {"subscription_ref": "SUB1"}, "created_at": "2026-11-25T10:00:00.000Z",
        }  # fmt: skip
        responses = []
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for _index in range(ROUNDS):
                body = mutate(
                    self.rng,
                    {"type": "notification", "event": "payment.succeeded", "object": payment},
                )
                response = self.url_open(
                    self.url("yookassa"),
                    json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"},
                )
                responses.append((body, response))
        self.assert_no_server_error(responses)

    def test_cloudpayments(self):
        params = {
            "TransactionId": "1701609", "Amount": "100.00", "Currency": "KZT",
            "InvoiceId": "SUB1", "AccountId": "acc", "SubscriptionId": "sc_1", "Email": "a@b.c",
            "DateTime": "2026-11-25 10:00:00", "Status": "Completed", "Id": "sc_1",
            "Interval": "Month", "Period": "1", "PaymentTransactionId": "1701600",
        }  # fmt: skip
        notifications = ["pay", "fail", "confirm", "refund", "recurrent", "cancel", "check"]
        responses = []
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for index in range(ROUNDS):
                sent = mutate(self.rng, dict(params, TransactionId=str(3000000 + index)))
                if index % 2:
                    body, content_type = json.dumps(sent).encode(), "application/json"
                else:
                    text = {k: "" if v is None else str(v) for k, v in sent.items()}
                    body = urlencode(text, errors="surrogatepass").encode()
                    content_type = "application/x-www-form-urlencoded"
                response = self.url_open(
                    self.url("cloudpayments", "?notification=%s" % self.rng.choice(notifications)),
                    body,
                    headers={
                        "Content-Type": content_type,
                        "Content-HMAC": cloudpayments_adapter.sign(body, "cp_fuzz"),
                    },
                )
                responses.append((sent, response))
        self.assert_no_server_error(responses)

    def test_robokassa(self):
        params = {"OutSum": "100.00", "InvId": "77", "EMail": "a@b.c", "Shp_subscription": "S1"}
        responses = []
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for index in range(ROUNDS):
                odd = mutate(self.rng, params)
                sent = {k: "" if v is None else str(v) for k, v in odd.items()}
                try:
                    sent = robokassa_adapter.sign(sent, "rk_fuzz")
                except Exception:  # noqa: BLE001 - unsignable: sent unsigned
                    sent["SignatureValue"] = "0"
                body = urlencode(sent, errors="surrogatepass").encode()
                if index % 2:
                    response = self.url_open(
                        self.url("robokassa"),
                        body,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                else:
                    response = self.url_open(self.url("robokassa", "?" + body.decode()))
                responses.append((sent, response))
        self.assert_no_server_error(responses)

    def test_kaspi(self):
        params = {
            "token": "kaspi_fuzz_token", "command": "pay", "txn_id": "1", "account": "SUB1",
            "sum": "100.00", "txn_date": "20261125100000",
        }  # fmt: skip
        responses = []
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            for index in range(ROUNDS):
                odd = mutate(self.rng, dict(params, txn_id=str(index + 1)))
                sent = {k: "" if v is None else str(v) for k, v in odd.items()}
                query = urlencode(sent, errors="surrogatepass")
                responses.append((sent, self.url_open(self.url("kaspi", "?" + query))))
        self.assert_no_server_error(responses)

    def test_usage_api(self):
        self.customer.ref = "C-FUZZ"
        action = self.env["cs.api.key"].create({"name": "Fuzz"}).action_generate()
        key = action["params"]["message"].split(" ")[0]
        item = {
            "id": "u1", "customer_ref": "C-FUZZ", "type": "login", "value": 2,
            "timestamp": "2026-11-23T09:15:00Z", "user": "almat@vostok.kz", "feature": "reports",
            "subscription_ref": "sub_fuzz", "external_customer_ref": "cus_fuzz", "partner_id": 7,
        }  # fmt: skip
        responses = []
        for index in range(ROUNDS):
            sent = mutate(self.rng, mutate(self.rng, dict(item, id="u%d" % index)))
            body = {"events": [sent]} if index % 3 else [sent, item]
            response = self.url_open(
                "/customer_success/api/v1/events",
                json.dumps(body),
                headers={"Content-Type": "application/json", "Authorization": "Bearer " + key},
            )
            responses.append((sent, response))
        failures = [(sent, r.status_code) for sent, r in responses if r.status_code >= 500]
        self.assertFalse(failures)
        self.assertTrue({r.status_code for _sent, r in responses} <= {200, 422})
