# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import date
from unittest.mock import Mock
from unittest.mock import patch
from urllib.parse import urlencode

import requests

from odoo.exceptions import AccessError
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..services import mrr as mrr_service
from ..services.providers import cloudpayments_adapter
from ..services.providers.common import AuthenticityError
from ..services.providers.common import PayloadError
from .common import CustomerSuccessMixin

SECRET = "cp_api_secret"
PUBLIC_ID = "pk_test_0123456789"
SUB_REF = "sc_b865df3d4f27c54dc8067520c071a"
TXN = "1701609"

# The public test vector of the undr/cloud_payments client (spec/cloud_payments/webhooks_spec.rb):
# a Pay notification as CloudPayments form-encodes it, signed with the API secret "pass".
VECTOR_BODY = (
    b"TransactionId=666&Amount=123.00&Currency=RUB&PaymentAmount=123.00&PaymentCurrency=RUB"
    b"&InvoiceId=1234567&AccountId=user%40example.com&SubscriptionId=&Name=VLADIMIR+KOCHNEV"
    b"&Email=user%40example.com&DateTime=2015-11-17+14%3a51%3a20&IpAddress=127.0.0.1"
    b"&IpCountry=RU&IpCity=%d0%a1%d0%b0%d0%bd%d0%ba%d1%82-%d0%9f%d0%b5%d1%82%d0%b5%d1%80"
    b"%d0%b1%d1%83%d1%80%d0%b3&IpRegion=%d0%a1%d0%b0%d0%bd%d0%ba%d1%82-%d0%9f%d0%b5%d1%82"
    b"%d0%b5%d1%80%d0%b1%d1%83%d1%80%d0%b3&IpDistrict=%d0%a1%d0%b5%d0%b2%d0%b5%d1%80%d0%be"
    b"-%d0%97%d0%b0%d0%bf%d0%b0%d0%b4%d0%bd%d1%8b%d0%b9+%d1%84%d0%b5%d0%b4%d0%b5%d1%80%d0%b0"
    b"%d0%bb%d1%8c%d0%bd%d1%8b%d0%b9+%d0%be%d0%ba%d1%80%d1%83%d0%b3&IpLatitude=59.939000"
    b"&IpLongitude=30.315800&CardFirstSix=411111&CardLastFour=1111&CardType=Visa"
    b"&CardExpDate=01%2f19&Issuer=&IssuerBankCountry=&Description=%d0%9e%d0%bf%d0%bb%d0%b0"
    b"%d1%82%d0%b0+%d0%b2+example.com&AuthCode=DEADBEEF&Token=1234567890&TestMode=1"
    b"&Status=Completed"
)
VECTOR_HMAC = "tJW02TMAce4Em8eJTNqjhOax+BYRM5K2D8mX9xsmUUc="


def pay_params(status="Completed", amount="15000.00", txn=TXN, **extra):
    """Shaped as CloudPayments' Pay / Fail notification (the client's spec payloads)."""
    params = {
        "TransactionId": txn,
        "Amount": amount,
        "Currency": "KZT",
        "PaymentAmount": amount,
        "PaymentCurrency": "KZT",
        "InvoiceId": "",
        "AccountId": "finance@altyn.example",
        "SubscriptionId": SUB_REF,
        "Name": "ALTYN LLP",
        "Email": "finance@altyn.example",
        "DateTime": "2026-09-21 10:00:05",
        "IpAddress": "127.0.0.1",
        "IpCountry": "KZ",
        "IpCity": "Алматы",
        "CardFirstSix": "411111",
        "CardLastFour": "1111",
        "CardType": "Visa",
        "CardExpDate": "01/29",
        "Description": "Подписка Pro",
        "TestMode": "1",
        "Status": status,
        "Data": '{"cloudPayments":{"recurrent":{"interval":"Month","period":1}}}',
    }
    if status == "Declined":
        params.update(StatusCode="5", Reason="InsufficientFunds", ReasonCode="5051")
    params.update(extra)
    return params


def api_payment(status="Completed", amount=15000.0, txn=TXN, **extra):
    """Shaped as the API's payments/get model (the client's fixtures)."""
    model = {
        "TransactionId": int(txn),
        "Amount": amount,
        "Currency": "KZT",
        "InvoiceId": None,
        "AccountId": "finance@altyn.example",
        "SubscriptionId": SUB_REF,
        "Email": "finance@altyn.example",
        "CreatedDateIso": "2026-09-21T10:00:00",
        "TestMode": True,
        "Status": status,
        "Reason": "Approved" if status == "Completed" else "InsufficientFunds",
        "CardHolderMessage": (
            "Payment successful" if status == "Completed" else "Insufficient funds on account"
        ),
    }
    model.update(extra)
    return model


def recurrent_params(status="Active", amount="15000.00", **extra):
    params = {
        "Id": SUB_REF,
        "AccountId": "finance@altyn.example",
        "Description": "Подписка Pro",
        "Email": "finance@altyn.example",
        "Amount": amount,
        "Currency": "KZT",
        "RequireConfirmation": "0",
        "StartDate": "2026-03-01 09:00:00",
        "Interval": "Month",
        "Period": "1",
        "Status": status,
        "SuccessfulTransactionsNumber": "6",
        "FailedTransactionsNumber": "0",
        "NextTransactionDate": "2026-10-21 10:00:05",
    }
    params.update(extra)
    return params


def api_subscription(status="Active", amount=15000.0, interval="Month", period=1, **extra):
    """Shaped as the API's subscriptions/get model (the client's fixtures)."""
    model = {
        "Id": SUB_REF,
        "AccountId": "finance@altyn.example",
        "Description": "Подписка Pro",
        "Email": "finance@altyn.example",
        "Amount": amount,
        "Currency": "KZT",
        "RequireConfirmation": False,
        "StartDateIso": "2026-03-01T09:00:00",
        "Interval": interval,
        "Period": period,
        "MaxPeriods": None,
        "Status": status,
        "SuccessfulTransactionsNumber": 6,
        "FailedTransactionsNumber": 0,
        "LastTransactionDateIso": "2026-09-21T10:00:05",
        "NextTransactionDateIso": "2026-10-21T10:00:05",
    }
    model.update(extra)
    return model


@tagged("post_install", "-at_install", "customer_success")
class TestCloudpaymentsAdapter(TransactionCase):
    def test_public_test_vector(self):
        cloudpayments_adapter.verify(VECTOR_BODY, VECTOR_HMAC, "pass")
        self.assertEqual(cloudpayments_adapter.sign(VECTOR_BODY, "pass"), VECTOR_HMAC)
        for header, secret in (
            ("6sUXv4W0wmhfpkkDtp+3Hw/M8deAPkMRVV3OWANcqro=", "pass"),  # the spec's invalid one
            (VECTOR_HMAC, "another secret"),
            ("", "pass"),
            ("not base64!", "pass"),
            (VECTOR_HMAC, ""),
        ):
            with self.subTest(header=header), self.assertRaises(AuthenticityError):
                cloudpayments_adapter.verify(VECTOR_BODY, header, secret)

    def test_parse(self):
        params = cloudpayments_adapter.parse(VECTOR_BODY, "application/x-www-form-urlencoded")
        self.assertEqual(params["IpCity"], "Санкт-Петербург")
        self.assertEqual(params["SubscriptionId"], "")
        self.assertEqual(params["DateTime"], "2015-11-17 14:51:20")
        cp1251 = urlencode({"TransactionId": "1", "Name": "Иван"}, encoding="cp1251").encode()
        self.assertEqual(
            cloudpayments_adapter.parse(
                cp1251, "application/x-www-form-urlencoded", "windows-1251"
            )["Name"],
            "Иван",
        )
        as_json = json.dumps({"TransactionId": 1, "InvoiceId": None}).encode()
        self.assertEqual(
            cloudpayments_adapter.parse(as_json, "application/json"),
            {"TransactionId": 1, "InvoiceId": ""},
        )
        for body, mimetype in (
            (b"{", "application/json"),
            (b"[1]", "application/json"),
            (b"a=1&&&=", "application/x-www-form-urlencoded"),
            (b"\xff\xfe", "application/x-www-form-urlencoded"),
            (b"TransactionId=1", "text/plain"),
        ):
            with self.subTest(body=body), self.assertRaises(PayloadError):
                cloudpayments_adapter.parse(body, mimetype)

    def test_dedup_keys(self):
        pay = cloudpayments_adapter.to_event("pay", pay_params())
        self.assertEqual((pay.external_id, pay.object_ref), ("%s:Completed" % TXN, SUB_REF))
        self.assertEqual(pay.created, 1789984805)  # 2026-09-21 10:00:05 UTC
        # A two-stage payment's Confirm is the same outcome as a one-stage Pay.
        confirm = cloudpayments_adapter.to_event("confirm", pay_params())
        self.assertEqual(confirm.external_id, pay.external_id)
        authorized = cloudpayments_adapter.to_event("pay", pay_params(status="Authorized"))
        self.assertEqual(authorized.external_id, "%s:Authorized" % TXN)
        fail = cloudpayments_adapter.to_event("fail", pay_params(status="Declined"))
        self.assertEqual(fail.external_id, "%s:Declined" % TXN)
        refund = cloudpayments_adapter.to_event(
            "refund", {"TransactionId": "1701700", "PaymentTransactionId": TXN, "Amount": "1"}
        )
        self.assertEqual(refund.external_id, "refund:1701700")
        first = cloudpayments_adapter.to_event("recurrent", recurrent_params())
        again = cloudpayments_adapter.to_event("recurrent", recurrent_params())
        later = cloudpayments_adapter.to_event("recurrent", recurrent_params(status="PastDue"))
        self.assertEqual(first.external_id, again.external_id)
        self.assertNotEqual(first.external_id, later.external_id)
        self.assertTrue(first.external_id.startswith("recurrent:%s:" % SUB_REF))
        for notification, params in (
            ("pay", pay_params(TransactionId="")),
            ("pay", pay_params(TransactionId="12; DROP")),
            ("pay", pay_params(status="Declined")),  # a Fail body sent to the Pay URL
            ("fail", pay_params()),  # a Pay body sent to the Fail URL
            ("pay", pay_params(Amount="a lot")),
            ("pay", pay_params(Amount="inf")),
            ("refund", {"TransactionId": "5", "Amount": "1"}),
            ("recurrent", recurrent_params(Id="")),
            ("recurrent", recurrent_params(status="Paused")),
        ):
            with self.subTest(notification=notification), self.assertRaises(PayloadError):
                cloudpayments_adapter.to_event(notification, params)

    def test_subscription_mrr(self):
        mrr = cloudpayments_adapter.subscription_mrr
        self.assertEqual(mrr(api_subscription(amount=1.02)), 1.02)
        self.assertEqual(mrr(api_subscription(amount=120000, interval="Month", period=12)), 10000)
        weekly = mrr(api_subscription(amount=100, interval="Week", period=2))
        self.assertAlmostEqual(weekly, 100 / mrr_service.months_in_period("weeks", 2))
        self.assertEqual(mrr(api_subscription(status="PastDue")), 15000.0)
        for status in ("Cancelled", "Rejected", "Expired"):
            self.assertEqual(mrr(api_subscription(status=status)), 0.0)
        self.assertEqual(mrr(api_subscription(interval="Fortnight")), 0.0)


@tagged("post_install", "-at_install", "customer_success")
class TestCloudpaymentsWebhook(CustomerSuccessMixin, HttpCase):
    """Real HMAC-signed form posts over HTTP, the inbox cron, then the effects; the
    CloudPayments API answers through a stubbed ``requests.post`` (the one place a
    test may stub the network)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_billing(
            "CloudPayments KZ",
            "cloudpayments",
            provider_account_ref=PUBLIC_ID,
            api_key=SECRET,
        )
        cls.sub = cls._subscription(
            price=15000.0,
            currency=cls.kzt,
            billing_account_id=cls.account.id,
            external_subscription_ref=SUB_REF,
        )

    def post(self, notification, params, secret=SECRET, as_json=False, headers=None):
        if as_json:
            body = json.dumps(params).encode()
            content_type = "application/json"
        else:
            body = urlencode(params).encode()
            content_type = "application/x-www-form-urlencoded"
        sent = {
            "Content-Type": content_type,
            "Content-HMAC": cloudpayments_adapter.sign(body, secret),
        }
        sent.update(headers or {})
        sent = {key: value for key, value in sent.items() if value is not None}
        url = self.url + ("?notification=%s" % notification if notification else "")
        return self.url_open(url, data=body, headers=sent)

    def process(self, *models, error=None):
        """Run the inbox job; the API answers ``models`` in turn (or raises ``error``)."""
        answers = [Mock(status_code=200, json=Mock(return_value={"Model": m, "Success": True}))
                   for m in models]  # fmt: skip
        with patch.object(
            cloudpayments_adapter.requests, "post", side_effect=error or answers
        ) as api:
            self.Event._process_due()
        self.env.invalidate_all()
        return api

    def events(self):
        return self.Event.search([("account_id", "=", self.account.id)], order="id")

    def movements(self):
        return self.env["cs.mrr.movement"].search(
            [("subscription_id", "=", self.sub.id), ("source", "=", "cloudpayments")],
            order="id",
        )

    # ------------------------------------------------------------------
    def test_pay_confirmed_by_the_api_pays_the_invoice(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        response = self.post("pay", pay_params())
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"code": 0})
        api = self.process(api_payment())
        api.assert_called_once_with(
            "https://api.cloudpayments.ru/payments/get",
            json={"TransactionId": int(TXN)},
            auth=(PUBLIC_ID, SECRET),
            timeout=cloudpayments_adapter.API_TIMEOUT,
        )
        event = self.events()
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, self.sub)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(event.payment_id.amount, 15000.0)
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertEqual(self.sub.external_customer_ref, "finance@altyn.example")

    def test_text_postgresql_cannot_hold_is_kept_escaped(self):
        # JSON may escape a lone surrogate, which no UTF-8 column holds: the payment
        # is stored all the same, the odd text kept as its escape.
        params = pay_params(Description="Оплата \ud83d", Email="finance@altyn.example")
        response = self.post("pay", params, as_json=True)
        self.assertEqual(response.status_code, 200, response.text)
        event = self.events()
        self.assertEqual(event.state, "received")
        self.assertIn("\\ud83d", event.payload)
        self.assertEqual(json.loads(event.payload)["Description"], "Оплата \ud83d")

    def test_three_deliveries_and_the_confirm_are_one_effect(self):
        self._posted_invoice(self.sub, 15000.0)
        for _attempt in range(3):
            self.assertEqual(self.post("pay", pay_params()).status_code, 200)
        self.post("confirm", pay_params())  # the same Completed outcome of a two-stage payment
        self.post("pay", pay_params(), as_json=True)  # the site switched to JSON
        self.assertEqual(len(self.events()), 1)
        self.process(api_payment())
        self.assertEqual(len(self.env["account.payment"].search([("memo", "=", TXN)])), 1)

    def test_the_api_wins_over_the_notification(self):
        # The Pay notification says Completed; the API says the charge was declined.
        self.post("pay", pay_params())
        self.process(api_payment(status="Declined"))
        event = self.events()
        self.assertEqual(event.state, "ignored")
        self.assertIn("Declined", event.result)
        self.assertEqual(self.sub.payment_status, "none")
        # The Fail notification of that charge is the one that applies it.
        self.post("fail", pay_params(status="Declined"))
        self.process(api_payment(status="Declined"))
        failed = self.events()[-1]
        self.assertEqual(failed.state, "processed", failed.error)
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertEqual(self.sub.amount_due, 15000.0)
        self.assertIn("Payment failed", self.sub.activity_ids.summary)
        self.assertIn("Insufficient funds", self.sub.activity_ids.note)
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertIn(self.customer, mail.recipient_ids)
        # No retry is scheduled: the email promises none, and says how to pay.
        self.assertNotIn("try again", mail.body_html)
        self.assertIn("a link to pay", mail.body_html)

    def test_two_stage_payment_waits_for_its_confirmation(self):
        self.post("pay", pay_params(status="Authorized"))
        self.process(api_payment(status="Authorized"))
        self.assertEqual(self.events().state, "ignored")
        self.assertEqual(self.sub.payment_status, "none")
        self.post("confirm", pay_params())
        self.process(api_payment())
        self.assertEqual(self.events()[-1].state, "processed")
        self.assertEqual(self.sub.payment_status, "paid")
        # A voided authorisation is acknowledged and moves no money.
        self.post("cancel", {"TransactionId": "1701610", "Amount": "15000.00"})
        self.assertEqual(self.events()[-1].state, "ignored")

    def test_refused_requests_store_nothing(self):
        params = pay_params()
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            forged = self.post("pay", params, secret="guessed")
            self.assertEqual(forged.status_code, 401)
            unsigned = self.post("pay", params, headers={"Content-HMAC": None})
            self.assertEqual(unsigned.status_code, 401)
            self.assertEqual(self.post(None, params).status_code, 400)
            self.assertEqual(self.post("chargeback", params).status_code, 400)
            self.assertEqual(self.post("pay", pay_params(Amount="много")).status_code, 400)
            self.assertEqual(self.post("fail", params).status_code, 400)  # Completed ≠ Fail
            text = self.url_open(
                self.url + "?notification=pay",
                data=b"TransactionId=1",
                headers={
                    "Content-Type": "text/plain",
                    "Content-HMAC": cloudpayments_adapter.sign(b"TransactionId=1", SECRET),
                },
            )
            self.assertEqual(text.status_code, 400)
        self.assertFalse(self.events())
        # Check asks whether a payment may go ahead: accepted, nothing stored.
        check = self.post("check", params)
        self.assertEqual((check.status_code, check.json()), (200, {"code": 0}))
        self.assertFalse(self.events())

    def test_recurrent_upgrade_then_overdue_then_rejected(self):
        self.post("recurrent", recurrent_params(amount="20000.00"))
        api = self.process(api_subscription(amount=20000.0))
        api.assert_called_once_with(
            "https://api.cloudpayments.ru/subscriptions/get",
            json={"Id": SUB_REF},
            auth=(PUBLIC_ID, SECRET),
            timeout=cloudpayments_adapter.API_TIMEOUT,
        )
        event = self.events()
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(self.sub.mrr, 20000.0)
        self.assertEqual(self.sub.next_payment_date, date(2026, 10, 21))
        self.assertEqual(self.sub.payment_status, "paid")
        upgrade = self.movements()
        self.assertEqual((upgrade.movement_type, upgrade.amount_currency), ("expansion", 5000.0))
        self.assertIn("Upgrade", self.sub.activity_ids.summary)
        self.assertIn("upgraded in CloudPayments", self.sub.activity_ids.note)

        self.post("recurrent", recurrent_params(status="PastDue", amount="20000.00"))
        self.process(api_subscription(status="PastDue", amount=20000.0))
        self.assertEqual(self.sub.payment_status, "overdue")
        self.assertEqual(self.sub.mrr, 20000.0)

        self.post("recurrent", recurrent_params(status="Rejected", amount="20000.00"))
        self.process(api_subscription(status="Rejected", amount=20000.0))
        self.assertEqual(self.sub.stage_id.type, "post")
        churn = self.movements()[-1]
        self.assertEqual((churn.movement_type, churn.churn_kind), ("churn", "delinquent"))
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertIn("Exit interview", " ".join(self.sub.activity_ids.mapped("summary")))

    def test_active_again_after_a_failed_charge_is_paid_again(self):
        """CloudPayments' retry went through: the subscription is Active again, nothing is
        due, and the CSM's payment to-do closes by itself."""
        self.post("fail", pay_params(status="Declined"))
        self.process(api_payment(status="Declined"))
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("failed", 15000.0))
        self.assertIn("Payment failed", self.sub.activity_ids.summary)
        self.post("recurrent", recurrent_params(status="Active"))
        self.process(api_subscription(status="Active"))
        event = self.events()[-1]
        self.assertEqual(event.state, "processed", event.error)
        self.assertIn("Paid again: CloudPayments reports the subscription active", event.result)
        self.assertEqual((self.sub.payment_status, self.sub.amount_due), ("paid", 0.0))
        self.assertFalse(self.sub.activity_ids)

    def test_recurrent_in_another_currency_is_refused(self):
        self.post("recurrent", recurrent_params(amount="200.00", Currency="RUB"))
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process(api_subscription(amount=200.0, Currency="RUB"))
        event = self.events()
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("CloudPayments bills", event.error)
        self.assertIn("in RUB, Odoo in KZT", event.error)
        self.assertEqual(self.sub.mrr, 15000.0)

    def test_recurrent_reads_the_current_state_from_the_api(self):
        # An old "Active" notification processed after the cancellation: the API
        # says Cancelled, so the subscription is closed — voluntary churn.
        self.post("recurrent", recurrent_params(status="Active"))
        self.process(api_subscription(status="Cancelled"))
        self.assertEqual(self.sub.stage_id.type, "post")
        self.assertEqual(self.sub.payment_status, "cancelled")
        churn = self.movements()
        self.assertEqual((churn.movement_type, churn.churn_kind), ("churn", "voluntary"))
        self.assertIn("cancelled in CloudPayments", self.sub.activity_ids.note)

    def test_refund_waits_for_the_accountant(self):
        self.post("pay", pay_params())
        self.process(api_payment())
        refund = {
            "TransactionId": "1701700",
            "PaymentTransactionId": TXN,
            "Amount": "5000.00",
            "DateTime": "2026-09-22 08:00:00",
            "OperationType": "Refund",
            "InvoiceId": "",
            "AccountId": "finance@altyn.example",
            "Email": "finance@altyn.example",
        }
        self.post("refund", refund)
        self.process(api_payment(Refunded=False))
        self.assertEqual(self.events()[-1].state, "ignored")  # the API shows no refund yet
        self.post("refund", dict(refund, TransactionId="1701701"))
        self.process(api_payment(Refunded=True))
        event = self.events()[-1]
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, self.sub)
        self.assertTrue(event.to_reconcile)
        self.assertEqual((event.amount, event.currency_id), (-5000.0, self.kzt))

    def test_unmatched_then_linked_by_the_invoice_number(self):
        other = self._subscription(
            price=15000.0, currency=self.kzt, billing_account_id=self.account.id
        )
        params = pay_params(SubscriptionId="sc_unknown", txn="1701800")
        self.post("pay", params)
        self.process(api_payment(SubscriptionId="sc_unknown", txn="1701800", AccountId="x"))
        event = self.events()
        self.assertEqual(event.state, "unmatched")
        self.assertIn("sc_unknown", event.result)
        # The widget was given our subscription's code as InvoiceId.
        self.post("pay", pay_params(SubscriptionId="sc_new", txn="1701801", InvoiceId=other.code))
        self.process(
            api_payment(SubscriptionId="sc_new", txn="1701801", InvoiceId=other.code, AccountId="x")
        )
        self.assertEqual(self.events()[-1].subscription_id, other)
        self.assertEqual(other.external_subscription_ref, "sc_new")
        # The unmatched one is linked by hand and reprocessed.
        event.subscription_id = self.sub
        with patch.object(
            cloudpayments_adapter.requests,
            "post",
            return_value=Mock(
                status_code=200, json=Mock(return_value={"Model": api_payment(txn="1701800")})
            ),
        ):
            event.action_reprocess()
        self.assertEqual(event.state, "processed", event.error)

    def test_a_payment_that_links_the_subscription_applies_its_waiting_events(self):
        """The subscription's state arrived before anything tied it to Odoo; the first
        payment, matched by our code, links it, and the waiting event is applied."""
        other = self._subscription(
            price=15000.0, currency=self.kzt, billing_account_id=self.account.id
        )
        stranger = {"AccountId": "x", "Email": "nobody@example.com"}
        self.post("recurrent", recurrent_params(Id="sc_later", amount="18000.00", **stranger))
        self.process(api_subscription(Id="sc_later", amount=18000.0, **stranger))
        waiting = self.events()
        self.assertEqual(waiting.state, "unmatched")
        self.post("pay", pay_params(SubscriptionId="sc_later", txn="1701900", InvoiceId=other.code))
        self.process(
            api_payment(
                SubscriptionId="sc_later", txn="1701900", InvoiceId=other.code, AccountId="x"
            ),
            api_subscription(Id="sc_later", amount=18000.0, **stranger),
        )
        self.assertEqual(other.external_subscription_ref, "sc_later")
        self.assertEqual((waiting.state, waiting.subscription_id), ("processed", other))
        self.assertEqual(other.mrr, 18000.0)

    def test_api_trouble_is_retried_with_a_clear_error(self):
        self.post("pay", pay_params())
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process(error=requests.ConnectionError("connection refused"))
        event = self.events()
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("CloudPayments API unreachable", event.error)
        declined = Mock(
            status_code=200,
            json=Mock(return_value={"Success": False, "Message": "Transaction not found"}),
        )
        with (
            mute_logger("odoo.addons.customer_success.models.cs_billing_event"),
            patch.object(cloudpayments_adapter.requests, "post", return_value=declined),
        ):
            self.Event.browse(event.id).action_reprocess()
        self.assertIn("Transaction not found", event.error)

    def test_notification_urls_are_ready_to_paste(self):
        urls = self.account.notification_urls.splitlines()
        self.assertEqual(len(urls), 6)
        self.assertTrue(urls[0].startswith("Pay: http"))
        self.assertTrue(urls[0].endswith(self.url + "?notification=pay"))

    def test_secret_and_api_url_for_admins_only(self):
        account = self.account.with_user(self.cs_manager)
        for field in ("api_key", "cloudpayments_api_url", "kaspi_api_url"):
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.read([field])
        with self.assertRaises(AccessError):
            account.write({"cloudpayments_api_url": "https://attacker.example"})
        self.assertIn("?notification=recurrent", account.notification_urls)
