# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import xml.etree.ElementTree as ET
from datetime import date
from datetime import datetime
from datetime import timedelta
from unittest.mock import MagicMock
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..services.providers import kaspi_adapter
from ..services.providers import kaspi_client
from .common import CustomerSuccessMixin

TOKEN = "kaspi-url-token-for-tests"


@tagged("post_install", "-at_install", "customer_success")
class TestKaspiAdapter(TransactionCase):
    def test_api_dates_are_stored_in_utc(self):
        to_utc = kaspi_adapter.to_utc
        self.assertEqual(to_utc("2026-10-01T18:30:00"), datetime(2026, 10, 1, 13, 30))
        self.assertEqual(to_utc("2026-10-01T18:30:00.6532417+06:00"), datetime(2026, 10, 1, 12, 30))
        self.assertEqual(to_utc("2026-10-01 18:30:00Z"), datetime(2026, 10, 1, 18, 30))
        for wrong in (None, "", "tomorrow", "2026-13-45T10:00:00", 20261001):
            self.assertIsNone(to_utc(wrong))

    def test_kazakh_mobile_numbers(self):
        kz_mobile = kaspi_adapter.kz_mobile
        for written, expected in (
            ("+7 (701) 234-56-78", "77012345678"),
            ("8 701 234 56 78", "77012345678"),
            ("7012345678", "77012345678"),
            ("+77471112233", "77471112233"),
            ("+7 775 111 22 33", "77751112233"),
            ("+7 727 250 00 00", ""),  # a landline of Almaty
            ("+7 916 123 45 67", ""),  # a Russian mobile: no Kaspi account
            ("+7 701 234 56", ""),
            ("", ""),
            (None, ""),
        ):
            self.assertEqual(kz_mobile(written), expected, written)
        # The first that is one.
        self.assertEqual(kz_mobile("+7 727 250 00 00", None, "87050001122"), "77050001122")
        self.assertEqual(kaspi_adapter.phone_display("77050001122"), "+7 705 000 11 22")

    def test_parse_request(self):
        ok = {
            "command": "pay",
            "txn_id": "123456",
            "account": "100200",
            "sum": "15000.00",
            "txn_date": "20260921103000",
        }
        command, txn_id, account, amount, txn_date = kaspi_adapter.parse_request(ok)
        self.assertEqual((command, txn_id, account, amount), ("pay", "123456", "100200", 15000.0))
        self.assertEqual(txn_date.isoformat(), "2026-09-21T10:30:00")
        cases = [
            ({**ok, "command": "refund"}, kaspi_adapter.OTHER_ERROR),
            ({**ok, "txn_id": ""}, kaspi_adapter.OTHER_ERROR),
            ({**ok, "account": "<script>"}, kaspi_adapter.BAD_ACCOUNT_FORMAT),
            ({**ok, "sum": "abc"}, kaspi_adapter.OTHER_ERROR),
            ({**ok, "sum": "0"}, kaspi_adapter.AMOUNT_TOO_SMALL),
            ({**ok, "sum": "-5"}, kaspi_adapter.AMOUNT_TOO_SMALL),
            ({**ok, "sum": "nan"}, kaspi_adapter.OTHER_ERROR),
            ({**ok, "sum": "1e999"}, kaspi_adapter.OTHER_ERROR),
            ({**ok, "txn_date": "yesterday"}, kaspi_adapter.OTHER_ERROR),
        ]
        for params, result in cases:
            with (
                self.subTest(params=params),
                self.assertRaises(kaspi_adapter.KaspiRequestError) as caught,
            ):
                kaspi_adapter.parse_request(params)
            self.assertEqual(caught.exception.result, result)

    def test_response_xml(self):
        root = ET.fromstring(kaspi_adapter.response_xml("1", 0, "OK", prv_txn=7, amount=10))
        self.assertEqual(
            [(c.tag, c.text) for c in root],
            [
                ("txn_id", "1"),
                ("prv_txn", "7"),
                ("sum", "10.00"),
                ("result", "0"),
                ("comment", "OK"),
            ],
        )

    def test_envelope(self):
        self.assertEqual(kaspi_adapter.envelope_data({"StatusCode": 0, "Data": {"a": 1}}), {"a": 1})
        with self.assertRaisesRegex(ValueError, "Kaspi error -1601"):
            kaspi_adapter.envelope_data({"StatusCode": -1601, "Message": "Unknown"})


def fake_response(body):
    response = MagicMock()
    response.json.return_value = body
    response.raise_for_status.return_value = None
    return response


@tagged("post_install", "-at_install", "customer_success")
class TestKaspiWebhook(CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.account = cls.env["cs.billing.account"].create(
            {
                "name": "Kaspi Pay",
                "provider": "kaspi",
                "url_token": TOKEN,
                "ip_allowlist": "127.0.0.1",
                "api_key": "kaspi-api-key",
                "kaspi_api_url": "https://kaspi.example/qr/v01",
                "provider_account_ref": "180340021791",
            }
        )
        cls.sub = cls._subscription(
            price=15000.0,
            currency=cls.kzt,
            billing_account_id=cls.account.id,
            external_subscription_ref="100200",
        )
        cls.url = "/customer_success/webhook/kaspi/%d" % cls.account.id
        cls.Event = cls.env["cs.billing.event"]

    def call(self, token=TOKEN, **params):
        query = "&".join("%s=%s" % item for item in {"token": token, **params}.items())
        response = self.url_open("%s?%s" % (self.url, query))
        if response.headers.get("Content-Type", "").startswith("application/xml"):
            return response.status_code, {c.tag: c.text for c in ET.fromstring(response.content)}
        return response.status_code, None

    def test_check(self):
        status, answer = self.call(command="check", txn_id="1", account="100200", sum="15000")
        self.assertEqual((status, answer["result"]), (200, "0"))
        self.assertEqual(answer["comment"], "Vostok LLP")
        _status, unknown = self.call(command="check", txn_id="2", account="999", sum="1")
        self.assertEqual(unknown["result"], str(kaspi_adapter.ACCOUNT_NOT_FOUND))
        _status, bad = self.call(command="check", txn_id="3", account="a%20b", sum="1")
        self.assertEqual(bad["result"], str(kaspi_adapter.BAD_ACCOUNT_FORMAT))
        self.assertFalse(self.Event.search([("account_id", "=", self.account.id)]))

    def test_pay_is_idempotent_on_txn_id(self):
        params = {
            "command": "pay",
            "txn_id": "778899",
            "account": "100200",
            "sum": "15000.00",
            "txn_date": "20260921103000",
        }
        answers = [self.call(**params)[1] for _ in range(3)]
        self.assertEqual({a["result"] for a in answers}, {"0"})
        self.assertEqual(len({a["prv_txn"] for a in answers}), 1)
        events = self.Event.search([("account_id", "=", self.account.id)])
        self.assertEqual(len(events), 1)
        # Kaspi's clock is Kazakhstan's (UTC+5), whatever the server's.
        self.assertEqual(events.event_created, datetime(2026, 9, 21, 5, 30))
        _status, other_sum = self.call(**{**params, "sum": "1.00"})
        self.assertEqual(other_sum["result"], str(kaspi_adapter.OTHER_ERROR))
        self.Event._process_due()
        self.env.invalidate_all()
        self.assertEqual(events.state, "processed", events.error)
        self.assertEqual(self.sub.payment_status, "paid")
        self.assertTrue(events.to_reconcile)  # no open invoice of 15 000 KZT to pay
        # subscription_oca invoices the renewal later: the payment pays it when posted.
        invoice = self.sub.create_invoice()
        invoice.action_post()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(events.to_reconcile)
        self.assertEqual(events.payment_id.date, date(2026, 9, 21))

    def test_refused_requests(self):
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            self.assertEqual(
                self.call(token="wrong", command="check", txn_id="1", account="100200")[0], 401
            )
            self.account.ip_allowlist = "10.1.2.3"
            self.assertEqual(self.call(command="check", txn_id="1", account="100200")[0], 403)
        self.assertFalse(self.Event.search([("account_id", "=", self.account.id)]))

    def test_qr_payment_link_polled_until_paid(self):
        answers = [
            {
                "StatusCode": 0,
                "Message": "OK",
                "Data": {
                    "QrPaymentId": 15,
                    "PaymentLink": "https://pay.kaspi.kz/pay/abc123",
                    "ExpireDate": "2030-01-01T12:00:00",
                    "PaymentBehaviorOptions": {"StatusPollingInterval": 5},
                },
            },
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "Wait"}},
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "Processed"}},
        ]
        with patch(
            "requests.Session.request", side_effect=[fake_response(a) for a in answers]
        ) as call:
            action = self.sub.action_cs_payment_link()
            request = self.env["cs.billing.payment.request"].browse(action["res_id"])
            self.assertEqual((request.state, request.external_id), ("waiting", "15"))
            self.assertEqual(request.payment_link, "https://pay.kaspi.kz/pay/abc123")
            self.assertEqual(request.expires_at, datetime(2030, 1, 1, 7, 0))  # noon in Almaty
            # The email to the customer says until when the QR link works.
            email = request.action_send_by_email()
            body = self.env["mail.compose.message"].with_context(email["context"]).create({}).body
            self.assertIn("https://pay.kaspi.kz/pay/abc123", body)
            self.assertIn("valid until", body)
            self.assertIn("2030", body)
            self.assertIn("12:00", body)  # Kazakhstan's time: the customer has no time zone
            request._poll()
            self.assertEqual(request.state, "waiting")
            request._poll()
        self.assertEqual(
            call.call_args_list[0].args[:2], ("POST", "https://kaspi.example/qr/v01/qr/create-link")
        )
        self.assertEqual(
            call.call_args_list[0].kwargs["json"]["ExternalId"],
            "%s-%d" % (self.sub.code, request.id),
        )
        self.assertEqual(
            call.call_args_list[2].args[:2],
            ("GET", "https://kaspi.example/qr/v01/payment/status/15"),
        )
        self.assertEqual(request.state, "processed")
        request.event_id._process()
        self.assertEqual(request.event_id.state, "processed", request.event_id.error)
        self.assertEqual(self.sub.payment_status, "paid")

    def test_qr_link_refuses_another_currency_than_tenge(self):
        usd_sub = self._subscription(
            partner=self.env["res.partner"].create({"name": "Dollar LLP", "is_company": True}),
            price=100.0,
            billing_account_id=self.account.id,
        )
        with (
            patch("requests.Session.request") as call,
            self.assertRaises(UserError) as refused,
        ):
            usd_sub.action_cs_payment_link()
        call.assert_not_called()
        self.assertIn("billed in USD", str(refused.exception))
        self.assertIn("takes KZT", str(refused.exception))
        # A provider that makes no payment links: a clear refusal, not a server error.
        stripe_account = self.env["cs.billing.account"].create(
            {"name": "Stripe", "provider": "stripe"}
        )
        usd_sub.billing_account_id = stripe_account
        with self.assertRaises(UserError) as refused:
            usd_sub.action_cs_payment_link()
        self.assertIn("Kaspi, YooKassa and Robokassa", str(refused.exception))
        # No billing account at all (the button is hidden then; an RPC call is refused).
        usd_sub.billing_account_id = False
        with self.assertRaises(UserError) as refused:
            usd_sub.action_cs_payment_link()
        self.assertIn("a Kaspi, YooKassa or Robokassa account first", str(refused.exception))

    def test_invoice_link_kaspi_refuses_is_marked_and_told(self):
        self.account.invoice_payment_links = True
        self.customer.csm_id = self.cs_user
        invoice = self._posted_invoice(self.sub, 15000.0)
        Request = self.env["cs.billing.payment.request"]
        request = Request.search([("invoice_id", "=", invoice.id)])
        with patch("requests.Session.request", side_effect=OSError("connection refused")):
            Request._cron_send_invoice_links()
        self.assertEqual(request.state, "error")
        self.assertIn("connection refused", request.last_message)
        todo = self.sub.activity_ids.filtered(lambda a: a.summary.startswith("Payment link"))
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn(invoice.name, todo.note)
        self.assertIn("connection refused", todo.note)
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))

    def test_a_kaspi_link_of_an_invoice_paid_another_way_keeps_being_polled(self):
        # Only polling would see a payment made through it: it waits until it expires.
        invoice = self._posted_invoice(self.sub, 15000.0)
        request = self.env["cs.billing.payment.request"].create(
            {
                "account_id": self.account.id,
                "subscription_id": self.sub.id,
                "invoice_id": invoice.id,
                "amount": 15000.0,
                "currency_id": self.kzt.id,
                "state": "waiting",
                "external_id": "17",
            }
        )
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(self.env["cs.billing.payment.request"]._withdraw_settled_links())
        self.assertEqual(request.state, "waiting")

    def test_a_kaspi_link_is_reminded_only_before_its_end(self):
        Request = self.env["cs.billing.payment.request"]
        self.account.write({"invoice_payment_links": True, "link_reminder_days": "3"})
        self.customer.email = "finance@vostok.example"
        for number, expires in ((21, "2030-01-01T12:00:00"), (22, None)):  # far, or no end
            data = {"QrPaymentId": number, "PaymentLink": "https://pay.kaspi.kz/pay/%d" % number}
            if expires:
                data["ExpireDate"] = expires
            created = {"StatusCode": 0, "Message": "OK", "Data": data}
            invoice = self._posted_invoice(self.sub, 1000.0 * number)
            with patch("requests.Session.request", return_value=fake_response(created)):
                Request._cron_send_invoice_links()
            link = Request.search([("invoice_id", "=", invoice.id)])
            self.assertEqual((link.state, bool(link.remind_at)), ("waiting", True))
        # A link that ends before its reminder is due (in 6 hours, not 3 days) gets none.
        soon = (fields.Datetime.now() + timedelta(hours=6)).replace(microsecond=0)
        almaty = soon + timedelta(hours=5)  # Kaspi writes Kazakhstan's time
        created = {
            "StatusCode": 0,
            "Message": "OK",
            "Data": {"QrPaymentId": 23, "PaymentLink": "https://pay.kaspi.kz/pay/23",
                     "ExpireDate": almaty.strftime("%Y-%m-%dT%H:%M:%S")},
        }  # fmt: skip
        invoice = self._posted_invoice(self.sub, 23000.0)
        with patch("requests.Session.request", return_value=fake_response(created)):
            Request._cron_send_invoice_links()
        link = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual((link.state, link.expires_at, link.remind_at), ("waiting", soon, False))

    def test_a_kaspi_link_of_an_unpaid_invoice_expired_is_chased_by_the_csm(self):
        self.customer.csm_id = self.cs_user
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        waiting = {"state": "waiting", "currency_id": self.kzt.id, "amount": 15000.0}
        request = Request.create(
            dict(waiting, account_id=self.account.id, subscription_id=self.sub.id)
            | {"invoice_id": invoice.id, "external_id": "18"}
        )
        expired = {"StatusCode": 0, "Message": "OK", "Data": {"Status": "Expired"}}
        with patch("requests.Session.request", return_value=fake_response(expired)):
            request._poll()
        self.assertEqual(request.state, "expired")
        todo = self.sub.activity_ids
        self.assertEqual(todo.summary, "Payment link expired: %s" % self.customer.name)
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn("The payment link of invoice %s" % invoice.name, todo.note)
        self.assertEqual(todo.activity_type_id.name, "Payment issue")
        # Past its end while Kaspi still says it waits: the same.
        todo.unlink()
        late = Request.create(
            dict(waiting, account_id=self.account.id, subscription_id=self.sub.id)
            | {"invoice_id": invoice.id, "external_id": "19", "expires_at": datetime(2026, 1, 1)}
        )
        wait = {"StatusCode": 0, "Message": "OK", "Data": {"Status": "Wait"}}
        with patch("requests.Session.request", return_value=fake_response(wait)):
            late._poll()
        self.assertEqual(late.state, "expired")
        self.assertTrue(self.sub.activity_ids)
        # A link of an invoice paid since expires quietly.
        self.sub.activity_ids.unlink()
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        quiet = Request.create(
            dict(waiting, account_id=self.account.id, subscription_id=self.sub.id)
            | {"invoice_id": invoice.id, "external_id": "20"}
        )
        with patch("requests.Session.request", return_value=fake_response(expired)):
            quiet._poll()
        self.assertEqual(quiet.state, "expired")
        self.assertFalse(self.sub.activity_ids)

    def test_qr_link_when_kaspi_is_unreachable(self):
        with (
            patch("requests.Session.request", side_effect=OSError("connection refused")),
            self.assertRaises(UserError) as refused,
        ):
            self.sub.action_cs_payment_link()
        self.assertIn("connection refused", str(refused.exception))
        self.assertFalse(
            self.env["cs.billing.payment.request"].search([("subscription_id", "=", self.sub.id)])
        )

    @freeze_time("2026-09-21 10:00:00")
    def test_qr_network_error_retries_later(self):
        request = self.env["cs.billing.payment.request"].create(
            {
                "account_id": self.account.id,
                "subscription_id": self.sub.id,
                "amount": 15000.0,
                "currency_id": self.kzt.id,
                "state": "waiting",
                "external_id": "16",
            }
        )
        with patch("requests.Session.request", side_effect=OSError("connection refused")):
            request._poll()
        self.assertEqual(request.state, "waiting")
        self.assertIn("connection refused", request.last_message)
        self.assertEqual(str(request.next_poll_at), "2026-09-21 10:01:00")

    # ------------------------------------------------------------------
    # Invoices to the customer's phone in the Kaspi app (remote payments)
    # ------------------------------------------------------------------
    def _remote_account(self):
        self.account.write({"kaspi_remote_invoices": True, "kaspi_device_token": "dev-tok-42"})
        self.customer.mobile = "+7 (701) 234-56-78"

    def test_an_invoice_goes_to_the_kaspi_app_and_is_polled_until_paid(self):
        self._remote_account()
        answers = [
            {"StatusCode": 0, "Message": "OK", "Data": {"QrPaymentId": 12737694350}},
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCreated"}},
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "Processed"}},
        ]
        with (
            freeze_time("2026-09-21 10:00:00"),
            patch(
                "requests.Session.request", side_effect=[fake_response(a) for a in answers]
            ) as call,
        ):
            action = self.sub.action_cs_payment_link()
            request = self.env["cs.billing.payment.request"].browse(action["res_id"])
            self.assertEqual(
                (request.state, request.external_id, request.phone, request.payment_link),
                ("waiting", "12737694350", "+7 701 234 56 78", False),
            )
            self.assertEqual(
                request.last_message, "Invoice sent to the Kaspi app of +7 701 234 56 78."
            )
            self.assertEqual(str(request.next_poll_at), "2026-09-21 10:01:00")
            self.assertTrue(request.display_name.startswith("Invoice in the Kaspi app"))
            request._poll()
            self.assertEqual(request.state, "waiting")
            request._poll()
        method, url = call.call_args_list[0].args[:2]
        self.assertEqual((method, url), ("POST", "https://kaspi.example/qr/v01/remote/create"))
        self.assertEqual(
            call.call_args_list[0].kwargs["json"],
            {
                "OrganizationBin": "180340021791",
                "DeviceToken": "dev-tok-42",
                "PhoneNumber": "77012345678",
                "Amount": 15000.0,
                "Comment": "%s: %s" % (self.sub.code, self.sub.template_id.name),
            },
        )
        self.assertEqual(
            call.call_args_list[2].args[:2],
            ("GET", "https://kaspi.example/qr/v01/payment/status/12737694350"),
        )
        self.assertEqual(request.state, "processed")
        request.event_id._process()
        self.assertEqual(request.event_id.state, "processed", request.event_id.error)
        self.assertEqual(self.sub.payment_status, "paid")

    def test_an_invoice_in_the_kaspi_app_is_polled_less_often_as_it_waits(self):
        self._remote_account()
        Request = self.env["cs.billing.payment.request"]
        wait = {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCreated"}}
        request = Request.create(
            {
                "account_id": self.account.id,
                "subscription_id": self.sub.id,
                "amount": 15000.0,
                "currency_id": self.kzt.id,
                "state": "waiting",
                "external_id": "31",
                "phone": "+7 701 234 56 78",
            }
        )
        # (the transaction's clock, which Odoo stamps records with, is not frozen)
        self.env.cr.execute(
            "UPDATE cs_billing_payment_request SET create_date = %s WHERE id = %s",
            ["2026-09-21 10:00:00", request.id],
        )
        request.invalidate_recordset(["create_date"])
        for now, next_poll in (
            ("2026-09-21 10:30:00", "2026-09-21 10:31:00"),  # its first hour: every minute
            ("2026-09-21 15:00:00", "2026-09-21 15:10:00"),  # its first day: every 10 minutes
            ("2026-09-25 15:00:00", "2026-09-25 16:00:00"),  # then hourly
        ):
            with (
                freeze_time(now),
                patch("requests.Session.request", return_value=fake_response(wait)),
            ):
                request._poll()
            self.assertEqual((request.state, str(request.next_poll_at)), ("waiting", next_poll))

    def test_without_a_kazakh_mobile_a_link_is_made_instead(self):
        self._remote_account()
        self.customer.mobile = "+7 727 250 00 00"  # the office's landline
        created = {
            "StatusCode": 0,
            "Message": "OK",
            "Data": {"QrPaymentId": 32, "PaymentLink": "https://pay.kaspi.kz/pay/32"},
        }
        with patch("requests.Session.request", return_value=fake_response(created)) as call:
            action = self.sub.action_cs_payment_link()
        request = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.assertEqual(call.call_args.args[1], "https://kaspi.example/qr/v01/qr/create-link")
        self.assertEqual(
            (request.phone, request.payment_link), (False, "https://pay.kaspi.kz/pay/32")
        )
        self.assertIn("has no Kazakh mobile number", request.last_message)

    def test_an_invoice_to_the_kaspi_app_needs_the_device_token(self):
        self._remote_account()
        self.account.kaspi_device_token = False
        with (
            patch("requests.Session.request") as call,
            self.assertRaises(UserError) as refused,
        ):
            self.sub.action_cs_payment_link()
        call.assert_not_called()
        self.assertIn("device token is not configured", str(refused.exception))

    def test_the_device_token_is_for_administrators_only(self):
        field = self.env["cs.billing.account"]._fields["kaspi_device_token"]
        self.assertEqual(field.groups, "base.group_system")
        with self.assertRaises(AccessError):
            self.account.with_user(self.cs_manager).read(["kaspi_device_token"])

    def test_the_invoice_job_sends_posted_invoices_to_the_kaspi_app_without_email(self):
        self._remote_account()
        self.account.invoice_payment_links = True
        self.customer.email = "finance@vostok.example"
        Request = self.env["cs.billing.payment.request"]
        created = {"StatusCode": 0, "Message": "OK", "Data": {"QrPaymentId": 33}}
        invoice = self._posted_invoice(self.sub, 15000.0)
        with patch("requests.Session.request", return_value=fake_response(created)):
            Request._cron_send_invoice_links()
        request = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual(
            (request.state, request.phone, request.remind_at),
            ("waiting", "+7 701 234 56 78", False),  # no Remind After (Days): no reminder
        )
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))

    def test_an_invoice_in_the_kaspi_app_is_reminded_by_email(self):
        self._remote_account()
        self.account.write({"invoice_payment_links": True, "link_reminder_days": "3, 7"})
        self.customer.write({"email": "finance@vostok.example", "csm_id": self.cs_user.id})
        Request = self.env["cs.billing.payment.request"]
        created = {"StatusCode": 0, "Message": "OK", "Data": {"QrPaymentId": 41}}
        invoice = self._posted_invoice(self.sub, 15000.0)
        with (
            freeze_time("2026-09-21 10:00:00"),
            patch("requests.Session.request", return_value=fake_response(created)),
        ):
            Request._cron_send_invoice_links()
        request = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual((request.phone, str(request.remind_at)),
                         ("+7 701 234 56 78", "2026-09-24 10:00:00"))  # fmt: skip
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))
        with freeze_time("2026-09-23 10:00:00"):
            self.assertFalse(Request._send_reminders())  # not due yet
        with freeze_time("2026-09-24 10:05:00"):
            self.assertEqual(Request._send_reminders(), request)
        mail = request.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.author_id, self.cs_user.partner_id)  # from the CSM
        self.assertIn("awaits you in the Kaspi app", mail.subject)
        self.assertIn("+7 701 234 56 78", mail.body)
        self.assertIn(invoice.name, mail.body)
        self.assertNotIn("href", mail.body)  # no link: the customer could pay twice
        self.assertEqual(mail.partner_ids, self.customer)
        self.assertEqual((request.reminder_count, str(request.remind_at)),
                         (1, "2026-10-01 10:05:00"))  # fmt: skip
        # Paid in the app: no more reminders.
        self._pay(invoice)
        with freeze_time("2026-10-01 10:10:00"):
            self.assertFalse(Request._send_reminders())

    def _remote_request(self, invoice, external_id):
        return self.env["cs.billing.payment.request"].create(
            {
                "account_id": self.account.id,
                "subscription_id": self.sub.id,
                "invoice_id": invoice.id,
                "amount": invoice.amount_residual,
                "currency_id": self.kzt.id,
                "state": "waiting",
                "external_id": external_id,
                "phone": "+7 701 234 56 78",
            }
        )

    def _pay(self, invoice, amount=None):
        vals = {"amount": amount} if amount else {}
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create(vals)._create_payments()

    def test_an_invoice_paid_another_way_is_cancelled_in_the_kaspi_app(self):
        self._remote_account()
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        request = self._remote_request(invoice, "34")
        self._pay(invoice)
        # The payment woke the job that takes it back, not left to its hourly run.
        job = self.env.ref("customer_success.ir_cron_invoice_payment_links")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", job.id)]))
        # Kaspi cannot be reached: it stays waiting (and polled), said why.
        with patch("requests.Session.request", side_effect=OSError("connection refused")):
            self.assertFalse(Request._withdraw_settled_links())
        self.assertEqual(request.state, "waiting")
        self.assertIn("Not cancelled at Kaspi yet (connection refused)", request.last_message)
        # The next run cancels it.
        cancelled = {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCanceled"}}
        with patch("requests.Session.request", return_value=fake_response(cancelled)) as call:
            self.assertEqual(Request._withdraw_settled_links(), request)
        self.assertEqual(
            call.call_args.args[:2], ("POST", "https://kaspi.example/qr/v01/remote/cancel")
        )
        self.assertEqual(
            call.call_args.kwargs["json"],
            {"OrganizationBin": "180340021791", "DeviceToken": "dev-tok-42", "QrPaymentId": 34},
        )
        self.assertEqual(request.state, "withdrawn")
        self.assertIn("its invoice in the Kaspi app was cancelled", request.last_message)

    def test_an_invoice_partly_paid_another_way_is_sent_again_for_the_rest(self):
        self._remote_account()
        self.account.invoice_payment_links = True
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        Request.search([("invoice_id", "=", invoice.id)]).unlink()  # queued when posted
        request = self._remote_request(invoice, "35")
        self._pay(invoice, amount=5000.0)
        answers = [
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCanceled"}},
            {"StatusCode": 0, "Message": "OK", "Data": {"QrPaymentId": 36}},
        ]
        with patch(
            "requests.Session.request", side_effect=[fake_response(a) for a in answers]
        ) as call:
            Request._cron_send_invoice_links()
        self.assertEqual(request.state, "withdrawn")
        self.assertIn("10,000.00", request.last_message)
        rest = Request.search([("invoice_id", "=", invoice.id), ("id", "!=", request.id)])
        self.assertEqual((rest.state, rest.external_id, rest.amount), ("waiting", "36", 10000.0))
        self.assertEqual(call.call_args.kwargs["json"]["Amount"], 10000.0)

    def test_an_invoice_left_in_the_kaspi_app_for_a_month_is_taken_back(self):
        self._remote_account()
        self.customer.csm_id = self.cs_user
        invoice = self._posted_invoice(self.sub, 15000.0)
        request = self._remote_request(invoice, "37")
        self.env.cr.execute(
            "UPDATE cs_billing_payment_request SET create_date = %s WHERE id = %s",
            ["2026-09-01 10:00:00", request.id],
        )
        request.invalidate_recordset(["create_date"])
        wait = fake_response({"StatusCode": 0, "Message": "OK", "Data": {"Status": "Wait"}})
        cancelled = fake_response({"StatusCode": 0, "Message": "OK", "Data": {}})
        with (
            freeze_time("2026-09-30 10:00:00"),
            patch("requests.Session.request", side_effect=[wait]),
        ):
            request._poll()  # 29 days: still waiting
        self.assertEqual(request.state, "waiting")
        with (
            freeze_time("2026-10-01 10:00:00"),
            patch("requests.Session.request", side_effect=[wait, cancelled]) as call,
        ):
            request._poll()
        self.assertEqual(call.call_args.args[1], "https://kaspi.example/qr/v01/remote/cancel")
        self.assertEqual(request.state, "expired")
        todo = self.sub.activity_ids
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn("sent to the Kaspi app of +7 701 234 56 78", todo.note)
        self.assertIn("expired unpaid", todo.note)

    def test_an_invoice_in_the_kaspi_app_is_replaced_by_a_link_on_request(self):
        self._remote_account()
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        request = self._remote_request(invoice, "39").with_user(self.cs_user)
        # Kaspi cannot be reached: no link (the customer could pay both), nothing changes.
        with (
            patch("requests.Session.request", side_effect=OSError("connection refused")),
            self.assertRaisesRegex(UserError, "connection refused"),
        ):
            request.action_kaspi_link_instead()
        self.assertEqual(request.state, "waiting")
        self.assertEqual(Request.search_count([("invoice_id", "=", invoice.id)]), 1)
        answers = [
            {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCanceled"}},
            {"StatusCode": 0, "Message": "OK",
             "Data": {"QrPaymentId": 40, "PaymentLink": "https://pay.kaspi.kz/pay/40"}},
        ]  # fmt: skip
        with patch(
            "requests.Session.request", side_effect=[fake_response(a) for a in answers]
        ) as call:
            action = request.action_kaspi_link_instead()
        self.assertEqual(
            [c.args[1] for c in call.call_args_list],
            [
                "https://kaspi.example/qr/v01/remote/cancel",
                "https://kaspi.example/qr/v01/qr/create-link",
            ],
        )
        self.assertEqual(request.state, "withdrawn")
        self.assertIn("a payment link replaces it", request.last_message)
        link = Request.browse(action["res_id"])
        self.assertEqual(
            (link.state, link.phone, link.payment_link, link.invoice_id, link.amount),
            ("waiting", False, "https://pay.kaspi.kz/pay/40", invoice, 15000.0),
        )
        self.assertIn("instead of an invoice to the Kaspi app", link.last_message)
        # Only an invoice waiting in the app is replaced.
        with self.assertRaisesRegex(UserError, "Only an invoice waiting in the Kaspi app"):
            link.with_user(self.cs_user).action_kaspi_link_instead()

    def test_an_invoice_turned_down_in_the_kaspi_app_is_cancelled(self):
        request = self._remote_request(self._posted_invoice(self.sub, 15000.0), "38")
        declined = {"StatusCode": 0, "Message": "OK", "Data": {"Status": "RemotePaymentCanceled"}}
        with patch("requests.Session.request", return_value=fake_response(declined)):
            request._poll()
        self.assertEqual(
            (request.state, request.last_message), ("cancelled", "RemotePaymentCanceled")
        )

    def test_an_invoice_to_the_kaspi_app_in_the_browser(self):
        self._remote_account()
        self.sub.amount_due = 15000.0
        self.cs_user.write({"password": "cs_user"})
        # Kaspi's answer stubbed at the client (the browser's own requests go through
        # the requests library too).
        answers = {
            "remote/create": {"QrPaymentId": 39},
            "remote/cancel": {},
            "qr/create-link": {"QrPaymentId": 40, "PaymentLink": "https://pay.kaspi.kz/pay/40"},
        }
        with patch.object(
            kaspi_client.KaspiQrClient,
            "_call",
            side_effect=lambda method, path, **kwargs: answers[path],
        ) as call:
            self.start_tour(
                "/odoo/action-subscription_oca.sale_subscription_action/%d" % self.sub.id,
                "customer_success_kaspi_app_invoice_tour",
                login="cs_user",
            )
        self.assertEqual(
            [c.args[1] for c in call.call_args_list],
            ["remote/create", "remote/cancel", "qr/create-link"],
        )
        app, link = self.env["cs.billing.payment.request"].search(
            [("subscription_id", "=", self.sub.id)], order="id"
        )
        self.assertEqual((app.state, app.phone), ("withdrawn", "+7 701 234 56 78"))
        self.assertEqual((link.state, link.phone), ("waiting", False))
