# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import html_escape
from odoo.tools import mute_logger

from ..services.providers import yookassa_adapter
from ..services.providers.common import PayloadError
from .common import CustomerSuccessMixin
from .common import load_migration

PAYMENT_ID = "2d2a5a5e-000f-5000-8000-18db351245c7"


def payment(status="succeeded", value="15000.00", currency="KZT", ref="SUB-KZ-1"):
    """Shaped as YooKassa's payment object (API v3), values explicit."""
    return {
        "id": PAYMENT_ID,
        "status": status,
        "paid": status == "succeeded",
        "amount": {"value": value, "currency": currency},
        "created_at": "2026-09-21T10:00:00.000Z",
        "captured_at": "2026-09-21T10:00:05.000Z" if status == "succeeded" else None,
        "description": "Subscription SUB-KZ-1",
        "metadata": {"subscription_ref": ref},
        "payment_method": {"type": "bank_card", "id": PAYMENT_ID, "saved": True},
        "recipient": {"account_id": "100500", "gateway_id": "100700"},
        "refundable": True,
        "test": True,
        "cancellation_details": (
            {"party": "payment_network", "reason": "insufficient_funds"}
            if status == "canceled"
            else None
        ),
    }


def notification(event, obj):
    return {"type": "notification", "event": event, "object": obj}


@tagged("post_install", "-at_install", "customer_success")
class TestYookassaAdapter(TransactionCase):
    def test_parse(self):
        event = yookassa_adapter.parse(json.dumps(notification("payment.succeeded", payment())))
        self.assertEqual(event.external_id, "payment.succeeded:%s" % PAYMENT_ID)
        self.assertEqual(event.created, 1789984805)
        for body in (
            b"{",
            b"[]",
            b'{"type": "x"}',
            b'{"type": "notification", "event": 1}',
            b'{"type": "notification", "event": "payment.succeeded", "object": {}}',
            b'{"type": "notification", "event": "payment.succeeded", "object": {"id": [1]}}',
            b'{"type": "notification", "event": "payment.\\u0000", "object": {"id": "2d"}}',
        ):
            with self.subTest(body=body), self.assertRaises(PayloadError):
                yookassa_adapter.parse(body)

    def test_ip_trust_uses_the_sdk_networks(self):
        self.assertTrue(yookassa_adapter.ip_trusted("185.71.76.5"))
        self.assertTrue(yookassa_adapter.ip_trusted("77.75.156.11"))
        self.assertFalse(yookassa_adapter.ip_trusted("127.0.0.1"))
        self.assertFalse(yookassa_adapter.ip_trusted("not an ip"))

    def test_amount_and_reference(self):
        self.assertEqual(yookassa_adapter.amount_of(payment()), (15000.0, "KZT"))
        self.assertEqual(yookassa_adapter.subscription_ref(payment()), "SUB-KZ-1")
        self.assertIsNone(yookassa_adapter.subscription_ref({"metadata": {}}))


@tagged("post_install", "-at_install", "customer_success")
class TestYookassaWebhook(CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_billing(
            "YooKassa",
            "yookassa",
            provider_account_ref="100500",
            api_key="test_secret_key",
            ip_allowlist="127.0.0.1\n::1",
        )
        cls.sub = cls._subscription(
            price=15000.0,
            currency=cls.kzt,
            billing_account_id=cls.account.id,
            external_subscription_ref="SUB-KZ-1",
        )

    def post(self, body):
        return self.url_open(
            self.url, data=json.dumps(body), headers={"Content-Type": "application/json"}
        )

    def process_with_api(self, api_object):
        """The API call is the one place the network is stubbed."""
        with (
            patch("yookassa.Payment.find_one", return_value=api_object) as find,
            patch("yookassa.Refund.find_one", return_value=api_object),
        ):
            self.Event._process_due()
        self.env.invalidate_all()
        return find

    def test_payment_succeeded_confirmed_by_the_api(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        response = self.post(notification("payment.succeeded", payment()))
        self.assertEqual(response.status_code, 200, response.text)
        find = self.process_with_api(payment())
        find.assert_called_once_with(PAYMENT_ID)
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "processed", event.error)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.sub.payment_status, "paid")

    def test_the_api_wins_over_the_notification(self):
        # The notification claims success; the API says the payment was cancelled.
        self.post(notification("payment.succeeded", payment()))
        self.process_with_api(payment(status="canceled"))
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "processed")
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertEqual(self.sub.amount_due, 15000.0)
        self.assertFalse(event.payment_id)
        # YooKassa's reason code, as a CSM reads it, with what to do about it.
        self.assertEqual(
            event.result,
            "Payment failed (YooKassa: insufficient funds — declined by the bank or payment "
            "system), 15,000.00 KZT due",
        )
        self.assertIn(
            "system). Ask the customer to top up the balance or to pay with another card.",
            self.sub.activity_ids.note,
        )

    def test_decline_reasons_read_as_words(self):
        from ..models.cs_billing_event_yookassa import _decline  # noqa: PLC0415

        reason, advice = _decline("permission_revoked", "merchant")
        self.assertEqual(
            reason(self.env),
            "YooKassa: autopayments revoked by the customer — cancelled by your shop",
        )
        self.assertIn("saves the card for autopayments again", advice(self.env))
        # A code YooKassa adds later is shown as sent, with the general advice.
        reason, advice = _decline("new_reason_2027", None)
        self.assertEqual(reason(self.env), "YooKassa: new_reason_2027")
        self.assertEqual(advice(self.env), "Check the payment method with the customer.")
        reason, _advice = _decline("insufficient_funds", {"not": "a party"})
        self.assertEqual(reason(self.env), "YooKassa: insufficient funds")

    def test_pending_payment_is_not_acted_on(self):
        self.post(notification("payment.succeeded", payment()))
        self.process_with_api(payment(status="pending"))
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.sub.payment_status, "none")

    def test_duplicates_and_unknown_sources(self):
        body = notification("payment.succeeded", payment())
        answers = [self.post(body).json() for _ in range(3)]
        self.assertEqual([a["duplicate"] for a in answers], [False, True, True])
        self.account.ip_allowlist = False  # back to YooKassa's own networks
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            self.assertEqual(self.post(body).status_code, 403)
            self.account.ip_allowlist = "127.0.0.1"
            bad = self.url_open(
                self.url,
                data="event=payment.succeeded",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            self.assertEqual(bad.status_code, 400)
            unknown = self.post(notification("deal.closed", {"id": "x"}))
            self.assertEqual(unknown.status_code, 400)
        ignored = self.post(notification("payment.waiting_for_capture", payment("pending")))
        self.assertEqual(ignored.status_code, 200)

    def test_refund_waits_for_the_accountant(self):
        self.post(notification("payment.succeeded", payment()))
        self.process_with_api(payment())
        refund = {
            "id": "216749f7-0016-50be-b000-078d43a63ae4",
            "payment_id": PAYMENT_ID,
            "status": "succeeded",
            "created_at": "2026-09-22T08:00:00.000Z",
            "amount": {"value": "5000.00", "currency": "KZT"},
        }
        self.post(notification("refund.succeeded", refund))
        self.process_with_api(refund)
        event = self.Event.search([("event_type", "=", "refund.succeeded")])
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, self.sub)
        self.assertTrue(event.to_reconcile)
        self.assertEqual(event.amount, -5000.0)

    def test_missing_credentials_fail_with_a_clear_error(self):
        self.account.api_key = False
        self.post(notification("payment.succeeded", payment()))
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.Event._process_due()
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("secret key are not configured", event.error)

    # ------------------------------------------------------------------
    # Payment links: a payment created through the API, paid on YooKassa's page
    # ------------------------------------------------------------------
    def created_payment(self):
        """Shaped as the API's answer to a created redirect payment."""
        created = payment(status="pending", ref=self.sub.code)
        created["paid"] = False
        created["confirmation"] = {
            "type": "redirect",
            "confirmation_url": "https://yoomoney.ru/checkout/payments/v2/contract?orderId="
            + PAYMENT_ID,
        }
        return created

    def send_link(self):
        self.sub.amount_due = 15000.0
        with patch("yookassa.Payment.create", return_value=self.created_payment()) as create:
            action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        return self.env["cs.billing.payment.request"].browse(action["res_id"]), create

    def test_a_second_press_opens_the_link_still_waiting_for_the_invoice(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, _create = self.send_link()
        self.assertEqual((request.state, request.invoice_id), ("waiting", invoice))
        with patch("yookassa.Payment.create") as create:
            action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        create.assert_not_called()  # the customer could pay both
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn(invoice.name, action["params"]["message"])
        self.assertEqual(action["params"]["next"]["res_id"], request.id)
        # Once it is no longer waiting (expired, say), a press makes a new one.
        request.state = "expired"
        request2, create = self.send_link()
        create.assert_called_once()
        self.assertNotEqual(request2, request)

    def test_failed_payment_gets_a_new_link_in_the_email(self):
        """An autopayment fails; the account sends a payment link on failure: the
        client's email carries it, the CSM's to-do says so."""
        self.account.failure_payment_link = True
        failed = payment(status="canceled")
        failed["cancellation_details"] = {"party": "payment_network", "reason": "card_expired"}
        self.post(notification("payment.canceled", failed))
        with patch("yookassa.Payment.create", return_value=self.created_payment()) as create:
            self.process_with_api(failed)
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "processed", event.error)
        params, _key = create.call_args.args
        self.assertEqual(params["amount"], {"value": "15000.00", "currency": "KZT"})
        link = self.env["cs.billing.payment.request"].search(
            [("subscription_id", "=", self.sub.id)]
        )
        self.assertEqual((link.state, link.amount), ("waiting", 15000.0))
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertIn('href="%s"' % link.payment_link.replace("&", "&amp;"), mail.body_html)
        self.assertNotIn("we will send you a link", mail.body_html)
        self.assertIn(
            "A new payment link went to the customer with the failed-payment email. "
            "Ask the customer to pay with another card or payment method.",
            self.sub.activity_ids.note,
        )
        # Paying that link settles the failure and closes the CSM's to-do.
        paid = dict(payment(ref=self.sub.code), id=link.external_id)
        self.post(notification("payment.succeeded", paid))
        self.process_with_api(paid)
        self.assertEqual((link.state, self.sub.payment_status), ("processed", "paid"))
        self.assertFalse(self.sub.activity_ids)

    def test_declined_payment_of_our_link_gets_no_second_link(self):
        self.account.failure_payment_link = True
        request, _create = self.send_link()
        declined = payment(status="canceled", ref=self.sub.code)
        self.post(notification("payment.canceled", declined))
        with patch("yookassa.Payment.create") as create:
            self.process_with_api(declined)
        create.assert_not_called()
        self.assertEqual(request.state, "cancelled")
        self.assertEqual(self.sub.payment_status, "failed")

    def test_failed_payment_without_a_link_when_yookassa_refuses_one(self):
        from yookassa.domain.exceptions import BadRequestError  # noqa: PLC0415

        self.account.failure_payment_link = True
        self.post(notification("payment.canceled", payment(status="canceled")))
        refusal = BadRequestError({"type": "error", "code": "invalid_request"})
        with patch("yookassa.Payment.create", side_effect=refusal):
            self.process_with_api(payment(status="canceled"))
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(self.sub.payment_status, "failed")
        self.assertFalse(
            self.env["cs.billing.payment.request"].search([("subscription_id", "=", self.sub.id)])
        )
        self.assertIn(
            "No payment link could be made for the failed payment",
            str(self.sub.message_ids.mapped("body")),
        )
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertIn("a link to pay", mail.body_html)

    def test_payment_link_is_paid_through_the_webhook(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, create = self.send_link()
        params, key = create.call_args.args
        self.assertEqual(params["amount"], {"value": "15000.00", "currency": "KZT"})
        self.assertEqual(params["confirmation"]["type"], "redirect")
        self.assertTrue(params["capture"])
        metadata = {"subscription_ref": self.sub.code, "cs_payment_request": request.id}
        self.assertEqual(params["metadata"], metadata)
        self.assertTrue(key.startswith("cs-link-") and key.endswith("-%d" % request.id))
        self.assertEqual((request.state, request.external_id), ("waiting", PAYMENT_ID))
        self.assertIn("orderId=" + PAYMENT_ID, request.payment_link)
        # The customer pays; YooKassa notifies, and its API confirms.
        self.post(notification("payment.succeeded", payment(ref=self.sub.code)))
        self.process_with_api(payment(ref=self.sub.code))
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual((request.state, request.event_id), ("processed", event))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def ask_yookassa(self, answer=None, side_effect=None, at=None):
        """The job that asks YooKassa about payments left waiting, ``at`` a time (the
        API call stubbed, as the one place the network is)."""
        Request = self.env["cs.billing.payment.request"]
        with (
            freeze_time(at or fields.Datetime.now()),
            patch("yookassa.Payment.find_one", return_value=answer, side_effect=side_effect) as f,
        ):
            Request._cron_ask_providers()
        return f

    def missed_alerts(self):
        return self.account.activity_ids.filtered(
            lambda a: a.summary == "YooKassa notifications missed"
        )

    def test_a_payment_whose_notification_never_came_is_asked_of_yookassa(self):
        self.account.user_id = self.cs_manager
        invoice = self._posted_invoice(self.sub, 15000.0)
        made = fields.Datetime.now()
        with freeze_time(made):
            request, _create = self.send_link()
        self.assertEqual(request.next_poll_at, made + timedelta(hours=1))
        # Not before the hour: its notification comes within seconds when it comes.
        self.ask_yookassa(at=made + timedelta(minutes=30)).assert_not_called()
        # An hour on, the customer has yet to pay: asked again an hour later.
        find = self.ask_yookassa(self.created_payment(), at=made + timedelta(hours=1))
        find.assert_called_once_with(PAYMENT_ID)
        self.assertEqual(request.next_poll_at, made + timedelta(hours=2))
        self.assertFalse(self.Event.search([("account_id", "=", self.account.id)]))
        # YooKassa unreachable: said on the link, asked again later.
        self.ask_yookassa(side_effect=ConnectionError("timed out"), at=made + timedelta(hours=2))
        self.assertIn("YooKassa was not reached about this payment", request.last_message)
        self.assertEqual(request.next_poll_at, made + timedelta(hours=3))
        # Paid, and no notification came: the outcome goes into the inbox and applies.
        paid = payment(ref=self.sub.code)
        self.ask_yookassa(paid, at=made + timedelta(hours=3))
        event = self.Event.search([("external_id", "=", "payment.succeeded:%s" % PAYMENT_ID)])
        self.assertEqual((event.state, request.event_id), ("received", event))
        self.assertFalse(request.next_poll_at)
        self.assertEqual(request.notification_missed_at, made + timedelta(hours=3))
        self.assertIn("notification of this payment did not come", request.message_ids[0].body)
        with freeze_time(made + timedelta(hours=3)):
            self.process_with_api(paid)
        self.assertEqual((event.state, request.state), ("processed", "processed"))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # The responsible is told what to check in YooKassa's cabinet.
        alert = self.missed_alerts()
        self.assertEqual(alert.user_id, self.cs_manager)
        self.assertIn("did not come in the last 7 days: 1.", alert.note)
        self.assertIn("Integration → HTTP notifications", alert.note)
        self.assertIn(PAYMENT_ID, alert.note)
        # The notification comes late after all: a duplicate, nothing paid twice.
        response = self.post(notification("payment.succeeded", paid))
        self.assertEqual(response.json()["duplicate"], True)
        self.assertEqual(len(invoice.matched_payment_ids), 1)
        # A week without another missed one: the daily job marks the to-do done.
        with freeze_time(made + timedelta(days=8)):
            self.env["cs.billing.account"]._alert_missed_notifications()
        self.assertFalse(self.missed_alerts())

    def test_a_notification_that_came_is_not_a_missed_one(self):
        request, _create = self.send_link()
        # The notification came, but waits in the inbox (or could not be applied).
        self.post(notification("payment.succeeded", payment(ref=self.sub.code)))
        self.ask_yookassa(payment(ref=self.sub.code), at=request.next_poll_at)
        self.assertFalse(request.notification_missed_at)
        self.assertFalse(request.next_poll_at, "the inbox has it: asked no more")
        self.assertFalse(self.missed_alerts())
        self.assertEqual(len(self.Event.search([("account_id", "=", self.account.id)])), 1)

    def test_a_link_left_unopened_is_asked_of_yookassa_less_often_after_a_day(self):
        request, _create = self.send_link()
        later = (request.create_date + timedelta(days=1, hours=1)).replace(microsecond=0)
        self.ask_yookassa(self.created_payment(), at=later)
        self.assertEqual(request.next_poll_at, later + timedelta(hours=6))
        # A month on, still pending: left to its notification.
        request.next_poll_at = later + timedelta(days=29)
        self.ask_yookassa(self.created_payment(), at=request.next_poll_at)
        self.assertFalse(request.next_poll_at)
        self.assertIn("not asked any more", request.last_message)
        self.assertEqual(request.state, "waiting")

    def test_payments_waiting_before_the_upgrade_are_asked_at_once(self):
        request, _create = self.send_link()
        request.next_poll_at = False
        request.flush_recordset()
        load_migration("18.0.1.17.0").migrate(self.env.cr, "18.0.1.16.0")
        request.invalidate_recordset()
        self.assertTrue(request.next_poll_at)
        self.assertLessEqual(request.next_poll_at, fields.Datetime.now())

    def test_payment_link_carries_the_receipt_the_shop_must_send(self):
        request, create = self.send_link()
        self.assertNotIn("receipt", create.call_args.args[0])  # receipts off: none
        self.account.write({"receipt_vat_code": "11", "receipt_tax_system": "2"})
        self.customer.email = "finance@vostok.example"
        request, create = self.send_link()
        self.assertEqual(
            create.call_args.args[0]["receipt"],
            {
                "customer": {"email": "finance@vostok.example"},
                "items": [
                    {
                        "description": request._link_description(),
                        "quantity": "1.00",
                        "amount": {"value": "15000.00", "currency": "KZT"},
                        "vat_code": 11,
                        "payment_mode": "full_payment",
                        "payment_subject": "service",
                    }
                ],
                "tax_system_code": 2,
            },
        )
        # No email: the receipt goes to the phone, in international digits.
        self.customer.write({"email": False, "phone": "+7 (701) 123-45-67"})
        _request, create = self.send_link()
        self.assertEqual(create.call_args.args[0]["receipt"]["customer"], {"phone": "77011234567"})
        # Nowhere to send it: a clear refusal before YooKassa is called, nothing kept.
        self.customer.phone = False
        links = self.env["cs.billing.payment.request"].search_count([])
        with (
            patch("yookassa.Payment.create") as create,
            self.assertRaises(UserError) as refused,  # in a savepoint, as a user's call
        ):
            self.sub.with_user(self.cs_user).action_cs_payment_link()
        self.assertIn("give Vostok LLP an email or a phone", str(refused.exception))
        create.assert_not_called()
        self.assertEqual(self.env["cs.billing.payment.request"].search_count([]), links)

    def test_payment_link_left_unpaid_expires_quietly(self):
        request, _create = self.send_link()
        expired = payment(status="canceled", ref=self.sub.code)
        expired["cancellation_details"] = {
            "party": "yoo_money",
            "reason": "expired_on_confirmation",
        }
        self.post(notification("payment.canceled", expired))
        self.process_with_api(expired)
        self.assertEqual(request.state, "expired")
        self.assertEqual(
            request.last_message,
            "YooKassa: not confirmed by the customer in time — YooKassa's own decision",
        )
        # No failed payment to chase: no status change, no email, no to-do.
        self.assertEqual(self.sub.payment_status, "none")
        self.assertFalse(self.sub.activity_ids)

    def test_payment_link_refused_by_yookassa(self):
        from yookassa.domain.exceptions import BadRequestError  # noqa: PLC0415

        refusal = BadRequestError(
            {
                "type": "error",
                "id": "0150d9b1-7c9b-4fa1-9ac6-5c1fe5e6e2ea",
                "code": "invalid_request",
                "description": "Receipt is missing or illegal",
                "parameter": "receipt",
            }
        )
        with (
            patch("yookassa.Payment.create", side_effect=refusal),
            self.assertRaises(UserError) as refused,
        ):
            self.sub.action_cs_payment_link()
        self.assertIn("Receipt is missing or illegal", str(refused.exception))
        self.assertFalse(
            self.env["cs.billing.payment.request"].search([("subscription_id", "=", self.sub.id)])
        )

    # ------------------------------------------------------------------
    # Autopayments: invoices charged to the card the customer saved
    # ------------------------------------------------------------------
    CHARGE_ID = "2d2a5a5e-0010-5000-9000-1a2b3c4d5e6f"
    CARD = {
        "type": "bank_card",
        "id": "2d2a5a5e-card-5000-8000-000000004444",
        "saved": True,
        "title": "Bank card *4444",
        "card": {"first6": "555555", "last4": "4444", "card_type": "MasterCard"},
    }

    def charged(self, status="succeeded", value="15000.00"):
        """The autopayment of the saved card as the API shows it, a month after the card
        was saved."""
        obj = dict(payment(status=status, value=value, ref=self.sub.code), id=self.CHARGE_ID)
        obj.update(created_at="2026-10-21T10:00:00.000Z", payment_method=dict(self.CARD))
        if status == "succeeded":
            obj["captured_at"] = "2026-10-21T10:00:03.000Z"
        return obj

    def save_card(self):
        """The customer pays a link (autopayments on: it saves the card) and YooKassa
        says so: the card is kept on the subscription."""
        self.account.autopayments = True
        first = self._posted_invoice(self.sub, 15000.0)  # no card yet: nothing charged
        request, create = self.send_link()
        self.assertIs(create.call_args.args[0]["save_payment_method"], True)
        paid = payment(ref=self.sub.code)
        paid["payment_method"] = dict(self.CARD)
        self.post(notification("payment.succeeded", paid))
        self.process_with_api(paid)
        self.assertEqual(request.state, "processed")
        self.assertIn(first.payment_state, ("paid", "in_payment"))
        return request

    def charge(self, invoice, answer=None, side_effect=None):
        """The job that sends the links of posted invoices runs, YooKassa answering the
        charge with ``answer`` (a pending autopayment) or raising ``side_effect``."""
        if answer is None and side_effect is None:
            answer = dict(payment(status="pending", ref=self.sub.code), id=self.CHARGE_ID)
            answer["paid"] = False
        Request = self.env["cs.billing.payment.request"]
        with (
            patch("yookassa.Payment.create", return_value=answer, side_effect=side_effect) as c,
            mute_logger("odoo.addons.customer_success.models.cs_billing_event_kaspi"),
        ):
            Request._cron_send_invoice_links()
        return Request.search([("invoice_id", "=", invoice.id)]), c

    def test_autopayments_charge_each_invoice_to_the_saved_card(self):
        self.save_card()
        self.assertEqual(self.sub.cs_payment_method_ref, "2d2a5a5e-card-5000-8000-000000004444")
        self.assertEqual(self.sub.cs_payment_method_title, "Bank card *4444")
        self.assertIn(
            "the customer saved Bank card *4444 for autopayments",
            str(self.sub.message_ids.mapped("body")),
        )
        # A renewal invoice is posted (Payment Links for Invoices is off): it is charged.
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, create = self.charge(invoice)
        params, key = create.call_args.args
        self.assertEqual(params["payment_method_id"], "2d2a5a5e-card-5000-8000-000000004444")
        self.assertEqual(
            params["amount"], {"value": "%.2f" % invoice.amount_total, "currency": "KZT"}
        )
        self.assertTrue(params["capture"])
        self.assertNotIn("confirmation", params)  # no page: an autopayment
        self.assertEqual(params["metadata"]["cs_payment_request"], request.id)
        self.assertTrue(key.startswith("cs-autopay-") and key.endswith("-%d" % request.id))
        self.assertEqual((request.state, request.autopayment), ("waiting", True))
        self.assertEqual(request.external_id, self.CHARGE_ID)
        self.assertFalse(request.payment_link)
        self.assertIn("Charged to Bank card *4444", request.last_message)
        # No email with a link: the customer has nothing to do.
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))
        # YooKassa says the charge went through: the invoice is paid.
        charged = self.charged(value="%.2f" % invoice.amount_total)
        self.post(notification("payment.succeeded", charged))
        self.process_with_api(charged)
        self.assertEqual(request.state, "processed")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # The job running again charges nothing twice.
        _request, create = self.charge(invoice)
        create.assert_not_called()
        # A CSM reads which card pays; the field is not theirs to write.
        sub = self.sub.with_user(self.cs_user)
        self.assertEqual(sub.cs_payment_method_title, "Bank card *4444")
        self.assertTrue(sub._fields["cs_payment_method_ref"].readonly)

    def test_a_declined_autopayment_is_a_failed_payment_with_a_link_to_pay(self):
        self.save_card()
        self.account.failure_payment_link = True
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, _create = self.charge(invoice)
        declined = self.charged(status="canceled")
        self.post(notification("payment.canceled", declined))
        with patch("yookassa.Payment.create", return_value=self.created_payment()) as create:
            self.process_with_api(declined)
        self.assertEqual(request.state, "cancelled")
        self.assertEqual(self.sub.payment_status, "failed")
        # The client never saw that payment: the failed-payment email carries a link.
        params, _key = create.call_args.args
        self.assertEqual(params["confirmation"]["type"], "redirect")
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertIn("orderId=", mail.body_html)
        # Insufficient funds: the card is kept for the next invoice.
        self.assertTrue(self.sub.cs_payment_method_ref)
        # The customer topped up: the head of CS charges the card again.
        from yookassa.domain.exceptions import BadRequestError  # noqa: PLC0415

        sub = self.sub.with_user(self.cs_manager)
        refusal = BadRequestError({"type": "error", "description": "Saved card not found"})
        with patch("yookassa.Payment.create", side_effect=refusal):
            with self.assertRaisesRegex(UserError, "Saved card not found"):
                sub.action_cs_charge_saved_card()
        again = dict(self.charged(status="pending"), id="2d2a5a5e-0011-5000-9000-000000000002")
        with patch("yookassa.Payment.create", return_value=again) as create:
            action = sub.action_cs_charge_saved_card()
        retry = self.env["cs.billing.payment.request"].browse(action["res_id"])
        params, key = create.call_args.args
        self.assertEqual(params["payment_method_id"], self.CARD["id"])
        self.assertEqual(params["amount"]["value"], "%.2f" % self.sub.amount_due)
        self.assertTrue(key.startswith("cs-autopay-"))
        self.assertEqual(
            (retry.state, retry.autopayment, retry.invoice_id), ("waiting", True, invoice)
        )
        with self.assertRaisesRegex(UserError, "waiting for YooKassa already"):
            sub.action_cs_charge_saved_card()
        # A CSM cannot charge a card.
        with self.assertRaises(AccessError):
            self.sub.with_user(self.cs_user).action_cs_charge_saved_card()

    def test_a_revoked_card_is_charged_no_more(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, _create = self.charge(invoice)
        revoked = self.charged(status="canceled")
        revoked["cancellation_details"] = {"party": "yoo_money", "reason": "permission_revoked"}
        revoked["payment_method"]["saved"] = False
        self.post(notification("payment.canceled", revoked))
        with patch("yookassa.Payment.create") as create:
            self.process_with_api(revoked)
        create.assert_not_called()  # no link on failure asked for
        self.assertEqual((request.state, self.sub.payment_status), ("cancelled", "failed"))
        self.assertFalse(self.sub.cs_payment_method_ref or self.sub.cs_payment_method_title)
        self.assertIn(
            "Bank card *4444 takes no more autopayments (YooKassa: autopayments revoked by the "
            "customer",
            str(self.sub.message_ids.mapped("body")),
        )
        # The next invoice is not charged: without invoice links, nothing is queued.
        later = self._posted_invoice(self.sub, 15000.0)
        self.assertFalse(
            self.env["cs.billing.payment.request"].search([("invoice_id", "=", later.id)])
        )

    def test_a_charge_queued_for_a_card_forgotten_since_is_not_made_nor_a_link(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)  # queued to charge the card
        self.sub.sudo().cs_payment_method_ref = False  # revoked before the job ran
        request, create = self.charge(invoice)
        create.assert_not_called()
        self.assertEqual(request.state, "cancelled")
        self.assertIn("no saved card to charge any more", request.last_message)
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))

    def test_a_charge_yookassa_refuses_becomes_a_payment_link(self):
        from yookassa.domain.exceptions import ForbiddenError  # noqa: PLC0415

        self.save_card()
        refusal = ForbiddenError(
            {"type": "error", "code": "forbidden", "description": "Autopayments are not enabled"}
        )
        # Payment Links for Invoices on: the link is made and emailed instead.
        self.account.invoice_payment_links = True
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, create = self.charge(invoice, side_effect=[refusal, self.created_payment()])
        self.assertEqual(create.call_count, 2)
        self.assertIn("confirmation", create.call_args.args[0])
        self.assertTrue(create.call_args.args[1].startswith("cs-link-"))
        self.assertEqual((request.state, request.autopayment), ("waiting", False))
        self.assertTrue(request.payment_link)
        self.assertIn("The saved card was not charged", request.last_message)
        self.assertIn("Autopayments are not enabled", request.last_message)
        sent = request.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(sent), 1)
        # Off: the request says why and the CSM gets a to-do.
        self.account.invoice_payment_links = False
        other = self._posted_invoice(self.sub, 9000.0)
        request, _create = self.charge(other, side_effect=refusal)
        self.assertEqual(request.state, "error")
        self.assertIn("Autopayments are not enabled", request.last_message)
        self.assertIn(
            "Autopayment not made: send a payment link", self.sub.activity_ids.mapped("summary")
        )

    def test_an_autopayment_settled_at_once_needs_no_notification(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        charged = self.charged(value="%.2f" % invoice.amount_total)
        request, _create = self.charge(invoice, answer=charged)  # succeeded in the answer
        stored = self.Event.search([("external_id", "=", "payment.succeeded:%s" % self.CHARGE_ID)])
        self.assertEqual(stored.state, "received")
        self.process_with_api(charged)  # applied as any notification: the API asked again
        self.assertEqual((stored.state, request.state), ("processed", "processed"))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # YooKassa's notification then comes: a duplicate, nothing paid twice.
        response = self.post(notification("payment.succeeded", charged))
        self.assertEqual(response.json()["duplicate"], True)
        self.assertEqual(len(invoice.matched_payment_ids | stored.payment_id), 1)

    # ------------------------------------------------------------------
    # Declined autopayments are charged again on the account's schedule
    # ------------------------------------------------------------------
    def pending(self, number):
        """YooKassa's answer to a charge of the saved card: under way, payment ``number``."""
        answer = dict(payment(status="pending", ref=self.sub.code), paid=False)
        answer.update(id="2d2a5a5e-0020-5000-9000-%012d" % number, payment_method=self.CARD)
        return answer

    def decline(self, request, reason="insufficient_funds", at=None, applied_at=None):
        """YooKassa declines the charge ``request`` made at ``at`` (in a minute; notified,
        then read back from the API), and the inbox job applies it then (or at
        ``applied_at``): returns ``at``."""
        at = at or fields.Datetime.now() + timedelta(minutes=1)
        declined = dict(self.charged(status="canceled"), id=request.external_id)
        declined["cancellation_details"] = {"party": "payment_network", "reason": reason}
        declined["created_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.post(notification("payment.canceled", declined))
        with freeze_time(applied_at or at), patch("yookassa.Payment.create") as create:
            self.process_with_api(declined)
        create.assert_not_called()  # no link asked on failure
        self.assertEqual(request.state, "cancelled")
        return at

    def failed_emails(self):
        return self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)], order="id"
        )

    def test_a_declined_autopayment_is_charged_again_on_the_schedule(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        self.account.autopay_retry_days = "3, 5"
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.assertEqual((first.attempt, first.retry_at), (1, False))
        declined_at = self.decline(first)
        # Insufficient funds: charged again three days later, the client told when.
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual(retry.attempt, 2)
        self.assertEqual(retry.retry_at, declined_at + timedelta(days=3))
        self.assertEqual(retry.amount, invoice.amount_residual)
        self.assertIn("Retry 1 of 2 of the autopayment declined", retry.last_message)
        self.assertEqual(self.sub.cs_autopay_retry_at, retry.retry_at)
        self.assertEqual(self.sub.next_payment_date, retry.retry_at.date())
        self.assertEqual(self.sub.payment_status, "failed")
        mail = self.failed_emails()
        self.assertEqual(len(mail), 1)
        self.assertIn("We will try again on", mail.body_html)
        self.assertIn("charged again on", self.sub.activity_ids.note)
        self.assertIn("(retry 1 of 2)", self.sub.activity_ids.note)
        # Not before its day.
        with freeze_time(retry.retry_at - timedelta(hours=1)):
            _requests, create = self.charge(invoice)
        create.assert_not_called()
        self.assertEqual(retry.state, "draft")
        # On its day, the card is charged again, a new payment for YooKassa.
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            _requests, create = self.charge(invoice, answer=self.pending(2))
        params, key = create.call_args.args
        self.assertEqual(params["payment_method_id"], self.CARD["id"])
        self.assertTrue(key.startswith("cs-autopay-") and key.endswith("-%d" % retry.id))
        self.assertEqual((retry.state, retry.autopayment), ("waiting", True))
        self.assertEqual(retry.external_id, self.pending(2)["id"])
        # Declined again: the last retry, five days later.
        self.decline(retry, at=retry.retry_at + timedelta(minutes=2))
        last = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual(last.attempt, 3)
        self.assertEqual(last.retry_at, retry.retry_at + timedelta(minutes=2, days=5))
        self.assertIn("(retry 2 of 2)", self.sub.activity_ids.note)
        with freeze_time(last.retry_at + timedelta(minutes=1)):
            self.charge(invoice, answer=self.pending(3))
        self.decline(last, at=last.retry_at + timedelta(minutes=2))
        # No retry left: nothing more is queued and the email promises none.
        self.assertFalse(Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")]))
        self.assertFalse(self.sub.cs_autopay_retry_at)
        self.assertIn("That was the last retry", self.sub.activity_ids.note)
        self.assertEqual(len(self.sub.activity_ids), 1)  # one to-do, kept up to date
        mails = self.failed_emails()
        self.assertEqual(len(mails), 3)
        self.assertNotIn("We will try again", mails[-1].body_html)
        # Declined on every charge for weeks: the card is charged no more.
        self.assertFalse(self.sub.cs_payment_method_ref)
        self.assertIn("the next ones", self.sub.activity_ids.note)
        self.assertIn(
            "Bank card *4444 was declined on all 3 charges of invoice %s" % invoice.name,
            str(self.sub.message_ids.mapped("body")),
        )

    def test_a_card_declined_on_every_retry_is_charged_no_more(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        self.account.autopay_retry_days = "3"
        self.account.invoice_payment_links = True
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.assertEqual(first.sudo().card_ref, self.CARD["id"])
        self.decline(first)
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertTrue(self.sub.cs_payment_method_ref)  # one decline: still charged
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            self.charge(invoice, answer=self.pending(2))
        self.decline(retry, at=retry.retry_at + timedelta(minutes=2))
        self.assertFalse(self.sub.cs_payment_method_ref)
        self.assertFalse(self.sub.cs_payment_method_title)
        # The next invoice gets a link, which saves a card again when paid.
        later = self._posted_invoice(self.sub, 9000.0)
        with freeze_time(retry.retry_at + timedelta(days=1)):
            requests_, create = self.charge(later, answer=self.created_payment())
        params = create.call_args.args[0]
        self.assertNotIn("payment_method_id", params)
        self.assertIs(params["save_payment_method"], True)
        self.assertFalse(requests_.autopayment)

    def test_a_card_saved_since_the_last_charge_is_kept(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        self.account.autopay_retry_days = "3"
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.decline(first)
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            self.charge(invoice, answer=self.pending(2))
        # The customer saves another card before the retry's decline comes.
        self.sub.sudo().write(
            {"cs_payment_method_ref": "2d2a5a5e-card-5000-8000-000000005555",
             "cs_payment_method_title": "Bank card *5555"}
        )  # fmt: skip
        self.decline(retry, at=retry.retry_at + timedelta(minutes=2))
        self.assertEqual(self.sub.cs_payment_method_ref, "2d2a5a5e-card-5000-8000-000000005555")
        self.assertIn("the card is not charged again", self.sub.activity_ids.note)

    def test_a_retry_that_goes_through_pays_the_invoice_and_closes_the_chase(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.decline(first)
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual(self.sub.activity_ids.activity_type_id.name, "Payment issue")
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            self.charge(invoice, answer=self.pending(2))
        # The customer topped up: YooKassa says the retry went through.
        paid = dict(self.charged(value="%.2f" % invoice.amount_total), id=retry.external_id)
        charged_at = retry.retry_at + timedelta(minutes=1)
        paid["created_at"] = charged_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        paid["captured_at"] = (charged_at + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.post(notification("payment.succeeded", paid))
        with freeze_time(retry.retry_at + timedelta(minutes=2)):
            self.process_with_api(paid)
        event = self.Event.search([("external_id", "=", "payment.succeeded:%s" % paid["id"])])
        self.assertEqual((event.state, retry.state), ("processed", "processed"), event.error)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertTrue(event.recovered)  # revenue won back by the retry
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertFalse(self.sub.activity_ids)  # the Payment issue to-do is done
        self.assertFalse(self.sub.cs_autopay_retry_at)
        self.assertFalse(Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")]))

    def test_a_retry_is_counted_from_the_decline_not_from_its_processing(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        declined_at = fields.Datetime.now() - timedelta(days=1)  # the inbox was late
        self.decline(first, at=declined_at, applied_at=fields.Datetime.now() + timedelta(minutes=1))
        retry = self.env["cs.billing.payment.request"].search(
            [("invoice_id", "=", invoice.id), ("state", "=", "draft")]
        )
        self.assertEqual(retry.retry_at, declined_at + timedelta(days=3))

    def test_a_retry_is_not_made_once_the_invoice_is_paid(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        declined_at = self.decline(first)
        retry = self.env["cs.billing.payment.request"].search(
            [("invoice_id", "=", invoice.id), ("state", "=", "draft")]
        )
        self.assertEqual(retry.retry_at, declined_at + timedelta(days=3))  # the default
        self.pay_by_hand(invoice)  # the customer paid by bank transfer
        self.assertFalse(self.sub.cs_autopay_retry_at)
        _requests, create = self.charge(invoice)  # the job runs (hourly, or on posting)
        create.assert_not_called()
        self.assertEqual(retry.state, "cancelled")
        self.assertIn("paid or cancelled before the card was charged again", retry.last_message)
        # An invoice reset to draft keeps its retry; still in draft on the day, the
        # card is not charged.
        other = self._posted_invoice(self.sub, 9000.0)
        first, _create = self.charge(other, answer=self.pending(2))
        self.decline(first)
        retry = self.env["cs.billing.payment.request"].search(
            [("invoice_id", "=", other.id), ("state", "=", "draft")]
        )
        other.button_draft()
        self.charge(other)
        self.assertEqual(retry.state, "draft")
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            _requests, create = self.charge(other)
        create.assert_not_called()
        self.assertEqual(retry.state, "cancelled")

    def test_a_retry_is_not_made_when_the_card_is_gone_or_called_off(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        self.account.invoice_payment_links = True  # a retry never turns into a link
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.decline(first)
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.sub.sudo().cs_payment_method_ref = False  # the card was forgotten since
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            _requests, create = self.charge(invoice)
        create.assert_not_called()
        self.assertEqual(retry.state, "cancelled")
        self.assertIn("no saved card to charge any more", retry.last_message)
        # A retry a CSM calls off is not made, and the subscription says who did.
        self.sub.sudo().cs_payment_method_ref = self.CARD["id"]
        other = self._posted_invoice(self.sub, 9000.0)
        first, _create = self.charge(other, answer=self.pending(2))
        self.decline(first)
        retry = Request.search([("invoice_id", "=", other.id), ("state", "=", "draft")])
        accountant = new_test_user(
            self.env, login="retry_accountant", groups="account.group_account_invoice"
        )
        with self.assertRaises(AccessError):  # not an accountant's to call off
            retry.with_user(accountant).action_cancel_retry()
        retry.with_user(self.cs_user).action_cancel_retry()
        self.assertEqual(retry.state, "cancelled")
        self.assertIn("called off by", retry.last_message)
        self.assertIn(
            "called off the charge of the saved card", str(self.sub.message_ids.mapped("body"))
        )
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            _requests, create = self.charge(other)
        create.assert_not_called()

    def test_a_retry_called_off_in_the_browser(self):
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        self.decline(first)
        retry = self.env["cs.billing.payment.request"].search(
            [("invoice_id", "=", invoice.id), ("state", "=", "draft")]
        )
        self.cs_user.write({"password": "cs_user"})
        self.start_tour(
            "/odoo/action-subscription_oca.sale_subscription_action/%d" % self.sub.id,
            "customer_success_autopay_retry_tour",
            login="cs_user",
        )
        self.assertEqual(retry.state, "cancelled")
        self.assertFalse(self.sub.cs_autopay_retry_at)

    def test_declines_a_retry_cannot_pass_are_not_retried(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        for number, reason in enumerate(("fraud_suspected", "card_expired"), start=1):
            with self.subTest(reason=reason):
                invoice = self._posted_invoice(self.sub, 1000.0 * number)
                first, _create = self.charge(invoice, answer=self.pending(number))
                self.decline(first, reason=reason)
                self.assertFalse(
                    Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
                )
                self.assertIn("not charged again by itself", self.sub.activity_ids.note)
        # A charge a manager made by hand is not retried by itself either.
        self.sub.sudo().cs_payment_method_ref = self.CARD["id"]
        self.sub.amount_due = 15000.0
        with patch("yookassa.Payment.create", return_value=self.pending(9)):
            action = self.sub.with_user(self.cs_manager).action_cs_charge_saved_card()
        by_hand = Request.browse(action["res_id"])
        self.assertEqual(by_hand.attempt, 0)
        self.decline(by_hand)
        self.assertFalse(Request.search([("state", "=", "draft")]))

    def test_cards_saved_before_are_found_at_yookassa(self):
        from types import SimpleNamespace  # noqa: PLC0415

        self.account.autopayments = True
        other = self._subscription(
            partner=self.env["res.partner"].create({"name": "Zhuldyz LLP", "is_company": True}),
            price=9000.0,
            currency=self.kzt,
            billing_account_id=self.account.id,
        )

        def paid(number, ref, card, saved=True):
            obj = dict(payment(ref=ref), id="2d2a5a5e-0040-5000-9000-%012d" % number)
            obj["payment_method"] = dict(self.CARD, id=card, title="Bank card *%s" % card[-4:])
            obj["payment_method"]["saved"] = saved
            return obj

        pages = [  # newest first, as the API lists them
            SimpleNamespace(
                items=[
                    paid(1, "SUB-KZ-1", "card-0000-0000-1111"),
                    paid(2, other.code, "card-0000-0000-2222", saved=False),
                ],
                next_cursor="cursor-2",
            ),
            SimpleNamespace(
                items=[
                    paid(3, "SUB-KZ-1", "card-0000-0000-0000"),  # older: not kept
                    paid(4, other.code, "card-0000-0000-3333"),
                    paid(5, "SUB-UNKNOWN", "card-0000-0000-4444"),
                ],
                next_cursor=None,
            ),
        ]
        with patch("yookassa.Payment.list", side_effect=pages) as listed:
            action = self.account.with_user(self.cs_manager).action_yookassa_find_saved_cards()
        params = listed.call_args_list[0].args[0]
        self.assertEqual((params["status"], params["limit"]), ("succeeded", 100))
        self.assertIn("created_at.gte", params)
        self.assertEqual(listed.call_args_list[1].args[0]["cursor"], "cursor-2")
        self.assertEqual(self.sub.cs_payment_method_ref, "card-0000-0000-1111")
        self.assertEqual(other.cs_payment_method_ref, "card-0000-0000-3333")
        self.assertIn("Saved cards found for 2 subscriptions", action["params"]["message"])
        self.assertIn(
            "the customer saved Bank card *1111 for autopayments",
            str(self.sub.message_ids.mapped("body")),
        )
        # A CSM may not; YooKassa's refusal is said, nothing kept.
        with self.assertRaises(AccessError):
            self.account.with_user(self.cs_user).action_yookassa_find_saved_cards()
        from yookassa.domain.exceptions import UnauthorizedError  # noqa: PLC0415

        refusal = UnauthorizedError({"type": "error", "description": "Invalid secret key"})
        with (
            patch("yookassa.Payment.list", side_effect=refusal),
            self.assertRaisesRegex(UserError, "Invalid secret key"),
        ):
            self.account.with_user(self.cs_manager).action_yookassa_find_saved_cards()

    def test_the_retry_schedule_is_checked(self):
        for value in ("3, x", "0", "3, 90", "1, 2, 3, 4, 5, 6, 7, 8, 9"):
            with self.subTest(value=value), self.assertRaises(ValidationError):
                self.account.autopay_retry_days = value
        self.account.autopay_retry_days = "2;4"
        self.assertEqual(self.account._autopay_retry_schedule(), [2, 4])
        self.account.autopay_retry_days = False
        self.assertEqual(self.account._autopay_retry_schedule(), [])

    def invoice_link(self):
        """A posted invoice and the link the job made and emailed for it."""
        Request = self.env["cs.billing.payment.request"]
        self.account.invoice_payment_links = True
        invoice = self._posted_invoice(self.sub, 15000.0)
        with patch("yookassa.Payment.create", return_value=self.created_payment()):
            Request._cron_send_invoice_links()
        link = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual(link.state, "waiting")
        return invoice, link

    @staticmethod
    def pay_by_hand(invoice):
        """The accountant registers a bank transfer on ``invoice``."""
        invoice.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()

    def test_a_link_of_an_invoice_paid_another_way_is_withdrawn(self):
        Request = self.env["cs.billing.payment.request"]
        invoice, link = self.invoice_link()
        self.pay_by_hand(invoice)
        Request._cron_send_invoice_links()
        self.assertEqual(link.state, "withdrawn")
        self.assertIn("%s was settled another way" % invoice.name, link.last_message)
        # Never paid, YooKassa lets it expire: nobody owes it, nothing is chased.
        self.expire_unopened()
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(
            event.result, "The payment of a withdrawn link was not made: nothing to chase."
        )
        self.assertEqual(link.state, "withdrawn")
        self.assertNotEqual(self.sub.payment_status, "failed")
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
            )
        )

    def test_a_link_of_an_invoice_partly_paid_another_way_is_made_again_for_the_rest(self):
        Request = self.env["cs.billing.payment.request"]
        invoice, link = self.invoice_link()
        # The customer transferred a third by bank: the link asks the whole still.
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 5000.0})._create_payments()
        self.assertEqual(invoice.payment_state, "partial")
        with patch("yookassa.Payment.create", return_value=self.created_payment()) as create:
            Request._cron_send_invoice_links()
        self.assertEqual(link.state, "withdrawn")
        self.assertIn("was partly paid another way", link.last_message)
        again = Request.search([("invoice_id", "=", invoice.id), ("id", "!=", link.id)])
        self.assertEqual((again.state, again.amount), ("waiting", invoice.amount_residual))
        self.assertEqual(create.call_args.args[0]["amount"]["value"], "%.2f" % again.amount)
        self.assertEqual(len(again.message_ids.filtered(lambda m: m.message_type == "comment")), 1)
        # Nothing changes on the next run: the new link asks what is due.
        with patch("yookassa.Payment.create") as create:
            Request._cron_send_invoice_links()
        create.assert_not_called()
        self.assertEqual(again.state, "waiting")

    def expire_unopened(self):
        """YooKassa cancels the payment of the link the customer never opened."""
        expired = dict(self.created_payment(), status="canceled")
        expired["cancellation_details"] = {
            "party": "yoo_money",
            "reason": "expired_on_confirmation",
        }
        self.post(notification("payment.canceled", expired))
        self.process_with_api(expired)

    def declined_with_a_link(self):
        """An autopayment of a new invoice declined, with Payment Link on Failure: the
        invoice, the declined charge, the link in the email, the retry queued."""
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        self.account.failure_payment_link = True
        invoice = self._posted_invoice(self.sub, 15000.0)
        first, _create = self.charge(invoice, answer=self.pending(1))
        declined = dict(self.charged(status="canceled"), id=first.external_id)
        declined["created_at"] = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.post(notification("payment.canceled", declined))
        with patch("yookassa.Payment.create", return_value=self.created_payment()):
            self.process_with_api(declined)
        link = Request.search([("external_id", "=", PAYMENT_ID)], limit=1)  # the newest
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual((link.state, link.invoice_id, retry.attempt), ("waiting", invoice, 2))
        return invoice, first, link, retry

    def test_a_retry_declined_again_sends_the_same_failure_link(self):
        Request = self.env["cs.billing.payment.request"]
        invoice, _first, link, retry = self.declined_with_a_link()
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            self.charge(invoice, answer=self.pending(2))
        # No second link (the customer could pay both): decline() checks that none is
        # asked of YooKassa.
        self.decline(retry, at=retry.retry_at + timedelta(minutes=2))
        links = Request.search(
            [("invoice_id", "=", invoice.id), ("autopayment", "=", False), ("retry_at", "=", False)]
        )
        self.assertEqual(links, link)
        self.assertEqual(link.state, "waiting")
        mails = self.failed_emails()
        self.assertEqual(len(mails), 2)
        self.assertIn(html_escape(link.payment_link), mails[-1].body_html)

    def test_a_failure_link_expiring_before_the_retry_is_not_chased(self):
        _invoice, _first, link, _retry = self.declined_with_a_link()
        self.expire_unopened()
        self.assertEqual(link.state, "expired")
        self.assertNotIn("Payment link expired", str(self.sub.activity_ids.mapped("summary")))

    def test_the_failure_link_of_a_declined_autopayment_names_its_invoice(self):
        Request = self.env["cs.billing.payment.request"]
        invoice, first, link, retry = self.declined_with_a_link()
        # A part is paid by bank: the link asking the whole is withdrawn; the saved
        # card is not charged for the rest outside its schedule, the retry charges it.
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 5000.0})._create_payments()
        with patch("yookassa.Payment.create") as create:
            Request._cron_send_invoice_links()
        create.assert_not_called()
        self.assertEqual(link.state, "withdrawn")
        self.assertEqual(Request.search([("invoice_id", "=", invoice.id)]), first | link | retry)
        with freeze_time(retry.retry_at + timedelta(minutes=1)):
            _requests, create = self.charge(invoice, answer=self.pending(2))
        self.assertEqual(
            create.call_args.args[0]["amount"]["value"], "%.2f" % invoice.amount_residual
        )

    def test_an_invoice_link_expired_unpaid_is_chased_by_the_csm(self):
        invoice, link = self.invoice_link()
        self.expire_unopened()
        self.assertEqual(link.state, "expired")
        # Not a failed payment (no email, no status), but the invoice is still owed.
        self.assertNotEqual(self.sub.payment_status, "failed")
        self.assertFalse(self.failed_emails())
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Payment link expired: %s" % self.customer.name)
        self.assertIn(invoice.name, todo.note)
        # The customer pays a new link: the to-do is done by itself.
        paid = payment(ref=self.sub.code, value="%.2f" % invoice.amount_residual)
        paid["id"] = "2d2a5a5e-0030-5000-9000-000000000001"
        self.post(notification("payment.succeeded", paid))
        self.process_with_api(paid)
        self.assertFalse(self.sub.activity_ids)

    def test_a_withdrawn_link_paid_all_the_same_waits_for_the_accountant(self):
        Request = self.env["cs.billing.payment.request"]
        invoice, link = self.invoice_link()
        invoice.button_draft()
        invoice.button_cancel()
        withdrawn = Request._withdraw_settled_links()
        self.assertEqual((withdrawn, link.state), (link, "withdrawn"))
        # The customer pays the link of the cancelled invoice from the old email.
        paid = payment(ref=self.sub.code)
        self.post(notification("payment.succeeded", paid))
        self.process_with_api(paid)
        event = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual((link.state, link.event_id), ("processed", event))
        self.assertTrue(event.to_reconcile)  # no open invoice: the accountant's

    def test_an_autopayment_under_way_is_not_withdrawn(self):
        Request = self.env["cs.billing.payment.request"]
        self.save_card()
        invoice = self._posted_invoice(self.sub, 15000.0)
        request, _create = self.charge(invoice)
        self.assertEqual((request.state, request.autopayment), ("waiting", True))
        self.pay_by_hand(invoice)
        self.assertFalse(Request._withdraw_settled_links())  # the charge is under way
        self.assertEqual(request.state, "waiting")
