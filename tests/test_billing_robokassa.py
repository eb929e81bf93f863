# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import json
from unittest.mock import Mock
from unittest.mock import patch
from urllib.parse import parse_qsl
from urllib.parse import unquote_plus
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests
from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import html_escape
from odoo.tools import mute_logger

from ..services.providers import robokassa_adapter
from ..services.providers.common import AuthenticityError
from ..services.providers.common import PayloadError
from .common import CustomerSuccessMixin
from .common import load_migration

LOGIN = "altyn_soft"
PASSWORD1 = "rk_password_1"
PASSWORD2 = "rk_password_2"
INV_ID = "5123"


def result_params(inv_id=INV_ID, out_sum="15000.000000", **extra):
    """Shaped as Robokassa's ResultURL notification (documentation, "Описание
    параметров ResultURL"); ``SignatureValue`` is added by :func:`signed`."""
    params = {
        "OutSum": out_sum,
        "InvId": inv_id,
        "Fee": "525.000000",
        "EMail": "finance@altyn.example",
        "PaymentMethod": "BankCard",
        "IncCurrLabel": "BankCardPSR",
    }
    params.update(extra)
    return params


def signed(params, password=PASSWORD2, algorithm="md5"):
    return robokassa_adapter.sign(params, password, algorithm)


def state_xml(code=100, result=0, description="", out_sum="15000.000000"):
    """Shaped as the OpStateExt answer (documentation, "XML интерфейсы")."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<OperationStateResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns="http://merchant.roboxchange.com/WebService/">'
        "<Result><Code>%(result)s</Code><Description>%(description)s</Description></Result>"
        "<State><Code>%(code)s</Code><RequestDate>2026-09-21T10:00:07.27+03:00</RequestDate>"
        "<StateDate>2026-09-21T10:00:05.1+03:00</StateDate></State>"
        "<Info><IncCurrLabel>BankCardPSR</IncCurrLabel><IncSum>15000.000000</IncSum>"
        "<IncAccount>411111******1111</IncAccount><PaymentMethod><Code>BankCard</Code>"
        "<Description>Банковская карта</Description></PaymentMethod>"
        "<OutCurrLabel>RUR</OutCurrLabel><OutSum>%(out_sum)s</OutSum></Info>"
        "</OperationStateResponse>"
    ) % {"result": result, "description": description, "code": code, "out_sum": out_sum}


@tagged("post_install", "-at_install", "customer_success")
class TestRobokassaAdapter(TransactionCase):
    def test_checksum(self):
        params = result_params(Shp_subscription="SUB001", Shp_invoice="INV/2026/00001")
        # OutSum:InvId:Password#2 then the Shp_* parameters sorted by name.
        base = "15000.000000:5123:%s:Shp_invoice=INV/2026/00001:Shp_subscription=SUB001" % (
            PASSWORD2
        )
        for algorithm in robokassa_adapter.HASHES:
            expected = hashlib.new(algorithm, base.encode()).hexdigest()
            with self.subTest(algorithm=algorithm):
                self.assertEqual(
                    signed(params, algorithm=algorithm)["SignatureValue"], expected.upper()
                )
                robokassa_adapter.verify(
                    dict(params, SignatureValue=expected), PASSWORD2, algorithm
                )  # any case
        good = signed(params)
        for bad, password, algorithm in (
            (dict(good, OutSum="1.000000"), PASSWORD2, "md5"),
            (dict(good, InvId="5124"), PASSWORD2, "md5"),
            (dict(good, Shp_subscription="SUB002"), PASSWORD2, "md5"),
            (dict(good, Shp_extra="1"), PASSWORD2, "md5"),
            (good, "rk_password_1", "md5"),
            (good, PASSWORD2, "sha256"),
            (good, "", "md5"),
            (dict(good, SignatureValue=""), PASSWORD2, "md5"),
            ({"SignatureValue": good["SignatureValue"]}, PASSWORD2, "md5"),
            (good, PASSWORD2, "ripemd160"),
        ):
            with self.subTest(bad=bad, password=password), self.assertRaises(AuthenticityError):
                robokassa_adapter.verify(bad, password, algorithm)

    def test_parse_and_dedup_key(self):
        body = urlencode(result_params(Shp_subscription="ПОДПИСКА-1")).encode()
        params = robokassa_adapter.parse(body, "application/x-www-form-urlencoded", {})
        self.assertEqual(params["Shp_subscription"], "ПОДПИСКА-1")
        self.assertEqual(robokassa_adapter.parse(b"", None, {"InvId": "7"}.items()), {"InvId": "7"})
        event = robokassa_adapter.to_event(params)
        self.assertEqual((event.external_id, event.event_type), (INV_ID, "payment"))
        self.assertEqual(event.object_ref, "ПОДПИСКА-1")
        self.assertEqual(robokassa_adapter.amount(params), 15000.0)
        for body, mimetype in (
            (b"OutSum=1&InvId=1", "application/json"),
            (b"\xff\xfe=1", "application/x-www-form-urlencoded"),
            (b"a=1&&&=", "application/x-www-form-urlencoded"),
        ):
            with self.subTest(body=body), self.assertRaises(PayloadError):
                robokassa_adapter.parse(body, mimetype, {})
        for params in (
            result_params(inv_id=""),
            result_params(inv_id="0"),
            result_params(inv_id="12; DROP"),
            result_params(out_sum="много"),
            result_params(out_sum="-1"),
            result_params(out_sum="NaN"),
            result_params(out_sum="1e999"),
        ):
            with self.subTest(params=params), self.assertRaises(PayloadError):
                robokassa_adapter.to_event(params)

    def test_payment_url(self):
        url = robokassa_adapter.payment_url(
            "https://auth.robokassa.kz/",
            LOGIN,
            PASSWORD1,
            "sha256",
            15000,
            "Подписка " + "Pro " * 40,
            {"Shp_subscription": "SUB001", "Shp_request": 7, "Shp_invoice": False},
            email="finance@altyn.example",
        )
        parts = urlsplit(url)
        self.assertEqual(
            (parts.scheme, parts.netloc, parts.path),
            ("https", "auth.robokassa.kz", "/Merchant/Index.aspx"),
        )
        query = dict(parse_qsl(parts.query))
        self.assertEqual(query["OutSum"], "15000.00")
        self.assertNotIn("InvId", query)  # Robokassa numbers the payment
        self.assertNotIn("Shp_invoice", query)  # no invoice: not sent, not signed
        self.assertEqual(len(query["Description"]), 100)
        self.assertEqual(query["Email"], "finance@altyn.example")
        # MerchantLogin:OutSum::Password#1 then the Shp_* parameters sorted by name.
        base = "%s:15000.00::%s:Shp_request=7:Shp_subscription=SUB001" % (LOGIN, PASSWORD1)
        self.assertEqual(query["SignatureValue"], hashlib.sha256(base.encode()).hexdigest())
        with self.assertRaises(AuthenticityError):
            robokassa_adapter.payment_url(None, LOGIN, "", "md5", 1, "x", {})

    def test_payment_url_with_a_receipt(self):
        receipt = robokassa_adapter.receipt("SUB001: Pro ~ год", 15000, "12", "2")
        # The receipt is signed URL-encoded once, as PHP's urlencode does it.
        self.assertEqual(
            json.loads(unquote_plus(receipt)),
            {
                "sno": "usn_income",
                "items": [
                    {
                        "name": "SUB001: Pro ~ год",
                        "quantity": 1,
                        "sum": 15000.0,
                        "payment_method": "full_payment",
                        "payment_object": "service",
                        "tax": "vat122",
                    }
                ],
            },
        )
        self.assertNotIn(" ", receipt)
        self.assertIn("%7E", receipt)
        self.assertIn("+", receipt)
        url = robokassa_adapter.payment_url(
            None, LOGIN, PASSWORD1, "md5", 15000, "x", {"Shp_request": 7}, receipt=receipt
        )
        query = dict(parse_qsl(urlsplit(url).query))
        # The link is decoded once by Robokassa: the receipt arrives as it was signed.
        self.assertEqual(query["Receipt"], receipt)
        # MerchantLogin:OutSum:InvId:Receipt:Password#1:Shp_*, the formula of
        # Robokassa's own WordPress module (tests/Unit/RobokassaPayAPITest.php).
        base = "%s:15000.00::%s:%s:Shp_request=7" % (LOGIN, receipt, PASSWORD1)
        self.assertEqual(query["SignatureValue"], hashlib.md5(base.encode()).hexdigest())
        self.assertEqual(
            json.loads(unquote_plus(robokassa_adapter.receipt("x", 1, "1"))),
            {"items": [{"name": "x", "quantity": 1, "sum": 1.0, "payment_method":
                        "full_payment", "payment_object": "service", "tax": "none"}]},
        )  # fmt: skip
        for vat_code, tax_system in (("13", None), ("4", "4")):
            with self.subTest(vat_code=vat_code), self.assertRaises(PayloadError):
                robokassa_adapter.receipt("x", 1, vat_code, tax_system)

    def test_parse_state(self):
        state = robokassa_adapter.parse_state(state_xml().encode())
        self.assertEqual(
            state,
            {
                "code": 100,
                "date": "2026-09-21T10:00:05.1+03:00",
                "out_sum": "15000.000000",
                "currency": "RUR",
                "method": "BankCard",
                "account": "411111******1111",
            },
        )
        for content, message in (
            (state_xml(result=3, description="Счёт не найден"), "Счёт не найден"),
            (state_xml(result=1, description="Неверная подпись"), "code 1"),
            ("<html>Service unavailable</html>", "code -"),
            ("not xml at all", "no XML"),
            (state_xml(code="x"), "no state"),
        ):
            with self.subTest(message=message):
                with self.assertRaisesRegex(robokassa_adapter.ApiError, message):
                    robokassa_adapter.parse_state(content.encode())
        # Code 3: no operation of that invoice number (a link nobody opened yet).
        with self.assertRaises(robokassa_adapter.InvoiceNotFound):
            robokassa_adapter.parse_state(state_xml(result=3).encode())


@tagged("post_install", "-at_install", "customer_success")
class TestRobokassaWebhook(CustomerSuccessMixin, HttpCase):
    """Real signed ResultURL calls over HTTP, the inbox cron, then the effects;
    OpStateExt answers through a stubbed ``requests.get`` (the one place a test may
    stub the network)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_billing(
            "Robokassa RU",
            "robokassa",
            provider_account_ref=LOGIN,
            webhook_secret=PASSWORD2,
            api_key=PASSWORD1,
            # The test client is not Robokassa: allow it besides Robokassa's own.
            ip_allowlist="127.0.0.1\n::1\n185.59.216.65\n185.59.217.65",
        )
        cls.account.currency_id = cls.kzt
        cls.sub = cls._subscription(
            price=15000.0, currency=cls.kzt, billing_account_id=cls.account.id
        )

    def post(self, params, password=PASSWORD2, method="POST", headers=None):
        params = signed(params, password) if password else params
        if method == "GET":
            return self.url_open(self.url + "?" + urlencode(params))
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.url_open(self.url, data=urlencode(params).encode(), headers=sent)

    def process(self, *answers, error=None):
        """Run the inbox job; OpStateExt answers ``answers`` (XML) in turn."""
        replies = [Mock(status_code=200, content=xml.encode()) for xml in answers]
        with patch.object(robokassa_adapter.requests, "get", side_effect=error or replies) as api:
            self.Event._process_due()
        self.env.invalidate_all()
        return api

    def reprocess(self, event, xml):
        """Press Reprocess on ``event``; OpStateExt answers ``xml``."""
        answer = Mock(status_code=200, content=xml.encode())
        with patch.object(robokassa_adapter.requests, "get", return_value=answer):
            event.action_reprocess()

    def events(self):
        return self.Event.search([("account_id", "=", self.account.id)], order="id")

    # ------------------------------------------------------------------
    def test_paid_invoice_is_registered_and_answered_ok(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        response = self.post(result_params(Shp_subscription=self.sub.code))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.text, "OK%s" % INV_ID)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        api = self.process(state_xml())
        api.assert_called_once_with(
            "https://auth.robokassa.ru/Merchant/WebService/Service.asmx/OpStateExt",
            params={
                "MerchantLogin": LOGIN,
                "InvoiceID": INV_ID,
                "Signature": hashlib.md5(
                    ("%s:%s:%s" % (LOGIN, INV_ID, PASSWORD2)).encode()
                ).hexdigest(),
            },
            timeout=robokassa_adapter.API_TIMEOUT,
        )
        event = self.events()
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, self.sub)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual((event.payment_id.amount, event.currency_id), (15000.0, self.kzt))
        # The fee Robokassa keeps is told to the accountant, who meets it on the bank line.
        self.assertEqual(event.payment_id.memo, "Robokassa %s, fee 525.00" % INV_ID)
        self.assertIn("fee 525.00 KZT: 14,475.00 KZT reach the bank", event.result)
        self.assertEqual(self.sub.payment_status, "paid")

    def test_three_deliveries_are_one_effect(self):
        self._posted_invoice(self.sub, 15000.0)
        params = result_params(Shp_subscription=self.sub.code)
        for method in ("POST", "POST", "GET"):  # the shop may send ResultURL by GET
            response = self.post(params, method=method)
            self.assertEqual((response.status_code, response.text), (200, "OK%s" % INV_ID))
        self.assertEqual(len(self.events()), 1)
        self.process(state_xml())
        payments = self.env["account.payment"].search(
            [("memo", "=like", "Robokassa %s, fee%%" % INV_ID)]
        )
        self.assertEqual(len(payments), 1)

    def test_robokassa_wins_over_the_notification(self):
        # The money went back to the buyer before the inbox got to it: nothing paid.
        self.post(result_params(Shp_subscription=self.sub.code))
        self.process(state_xml(code=60))
        event = self.events()
        self.assertEqual(event.state, "ignored")
        self.assertIn("money returned to the buyer", event.result)
        self.assertEqual(self.sub.payment_status, "none")
        self.assertFalse(event.payment_id)

    def test_a_payment_still_being_credited_is_tried_again(self):
        self._posted_invoice(self.sub, 15000.0)
        self.post(result_params(Shp_subscription=self.sub.code))
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process(state_xml(code=50))
        event = self.events()
        self.assertEqual((event.state, event.attempts), ("received", 1))
        self.assertIn("being credited", event.error)
        self.reprocess(event, state_xml())
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(self.sub.payment_status, "paid")

    def test_refused_requests_store_nothing(self):
        params = result_params(Shp_subscription=self.sub.code)
        with mute_logger("odoo.addons.customer_success.controllers.webhook"):
            self.assertEqual(self.post(params, password="rk_password_1").status_code, 401)
            self.assertEqual(self.post(params, password=None).status_code, 401)  # unsigned
            tampered = dict(signed(params), OutSum="1.000000")
            self.assertEqual(self.post(tampered, password=None).status_code, 401)
            self.assertEqual(self.post(result_params(inv_id="abc")).status_code, 400)
            self.assertEqual(self.post(result_params(out_sum="много")).status_code, 400)
            as_json = self.post(params, headers={"Content-Type": "application/json"})
            self.assertEqual(as_json.status_code, 400)
            # Without an allow-list of its own the account takes Robokassa's addresses,
            # and the test client is not one of them.
            self.account.ip_allowlist = False
            self.assertEqual(self.post(params).status_code, 403)
        self.assertFalse(self.events())

    def test_test_mode_payment_moves_no_money(self):
        self._posted_invoice(self.sub, 15000.0)
        params = result_params(Shp_subscription=self.sub.code)
        self.assertEqual(self.post(dict(params, IsTest="1")).text, "OK%s" % INV_ID)
        test_event = self.events()
        self.assertEqual((test_event.state, test_event.external_id), ("ignored", "test:5123"))
        # The live payment of the same invoice number is not taken for a duplicate.
        self.post(params)
        self.process(state_xml())
        live = self.events()[-1]
        self.assertEqual((live.state, live.external_id), ("processed", INV_ID))

    def test_matching_by_invoice_email_or_by_hand(self):
        other = self._subscription(
            partner=self.env["res.partner"].create({"name": "Other LLP", "is_company": True}),
            price=9000.0,
            currency=self.kzt,
            billing_account_id=self.account.id,
        )
        invoice = self._posted_invoice(other, 9000.0)
        # The payment link carried the Odoo invoice number.
        self.post(result_params(inv_id="6001", out_sum="9000.00", Shp_invoice=invoice.name))
        self.process(state_xml())
        self.assertEqual(self.events().subscription_id, other)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # No parameter of ours: the payer's email names the customer's one subscription.
        self.post(result_params(inv_id="6002"))
        self.process(state_xml())
        self.assertEqual(self.events()[-1].subscription_id, self.sub)
        # Nothing matches: the event waits in "Unmatched" until a user links it.
        self.post(result_params(inv_id="6003", EMail="stranger@example.com"))
        self.process(state_xml())
        event = self.events()[-1]
        self.assertEqual(event.state, "unmatched")
        self.assertIn("stranger@example.com", event.result)
        event.subscription_id = other
        self.reprocess(event, state_xml())
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(event.subscription_id, other)

    def test_unmatched_payment_proposes_the_payers_subscriptions(self):
        # The payer's customer has a subscription, but not billed through this account
        # (a customer moving to Robokassa): matching stops, the event proposes it.
        moving = self.env["res.partner"].create(
            {"name": "Moving LLP", "is_company": True, "email": "Pay@Moving.example"}
        )
        theirs = self._subscription(partner=moving, price=9000.0, currency=self.kzt)
        self.post(result_params(inv_id="7001", out_sum="9000.00", EMail="pay@moving.example"))
        self.process(state_xml(out_sum="9000.000000"))
        event = self.events()
        self.assertEqual(event.state, "unmatched")
        self.assertEqual(event.candidate_subscription_ids, theirs)
        self.assertFalse(self.events().filtered(lambda e: e.state == "processed"))
        answer = Mock(status_code=200, content=state_xml(out_sum="9000.000000").encode())
        with patch.object(robokassa_adapter.requests, "get", return_value=answer):
            theirs.with_user(self.cs_manager).with_context(
                cs_billing_event_id=event.id
            ).action_cs_link_billing_event()
        self.assertEqual((event.state, event.subscription_id), ("processed", theirs), event.error)
        self.assertFalse(event.candidate_subscription_ids)
        with self.assertRaises(UserError):  # applied: nothing left to link
            theirs.with_context(cs_billing_event_id=event.id).action_cs_link_billing_event()

    def test_payment_link_for_a_renewal_is_paid_through_robokassa(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        request = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.assertEqual((request.state, request.invoice_id), ("waiting", invoice))
        query = dict(parse_qsl(urlsplit(request.payment_link).query))
        self.assertEqual(
            (query["MerchantLogin"], query["OutSum"], query["Shp_request"]),
            (LOGIN, "15000.00", str(request.id)),
        )
        self.assertEqual(
            (query["Shp_subscription"], query["Shp_invoice"]), (self.sub.code, invoice.name)
        )
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        base = ":".join(
            [LOGIN, "15000.00", "", PASSWORD1] + ["%s=%s" % item for item in sorted(shp.items())]
        )
        self.assertEqual(query["SignatureValue"], hashlib.md5(base.encode()).hexdigest())
        # The customer pays; Robokassa numbers the payment and returns our parameters.
        self.post(result_params(inv_id="900001", out_sum="15000.000000", **shp))
        self.process(state_xml())
        event = self.events()
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual(
            (request.state, request.external_id, request.event_id), ("processed", "900001", event)
        )
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.sub.payment_status, "paid")

    def test_payment_link_is_emailed_to_the_customer(self):
        self.customer.email = "finance@altyn.example"
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        request = (
            self.env["cs.billing.payment.request"].with_user(self.cs_user).browse(action["res_id"])
        )
        email = request.action_send_by_email()
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.cs_user)
            .with_context(email["context"])
            .create({})
        )
        self.assertIn(self.customer, composer.partner_ids)
        self.assertIn(html_escape(request.payment_link), composer.body)
        self.assertIn("15,000.00", composer.body)
        composer.action_send_mail()
        sent = request.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(sent), 1)
        self.assertIn(self.customer, sent.notification_ids.res_partner_id)
        self.assertIn(html_escape(request.payment_link), sent.body)
        # The subscription shows its links.
        subscription = self.sub.with_user(self.cs_user)
        self.assertEqual(subscription.cs_payment_link_count, 1)
        links = subscription.action_cs_view_payment_links()
        self.assertEqual(self.env[links["res_model"]].search(links["domain"]), request)
        # Paid, expired or cancelled links are not sent again.
        request.sudo().state = "processed"
        with self.assertRaises(UserError):
            request.action_send_by_email()

    def test_an_unpaid_invoice_link_is_emailed_again_as_a_reminder(self):
        Request = self.env["cs.billing.payment.request"]
        self.account.write({"invoice_payment_links": True, "link_reminder_days": "3, 7"})

        def emails(link):
            link.invalidate_recordset(["message_ids"])
            return link.message_ids.filtered(lambda m: m.message_type == "comment")

        with freeze_time("2027-01-10 09:00:00"):
            invoice = self._posted_invoice(self.sub, 15000.0)
            Request._cron_send_invoice_links()
        link = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual((link.state, len(emails(link))), ("waiting", 1))
        self.assertEqual(str(link.remind_at), "2027-01-13 09:00:00")
        with freeze_time("2027-01-13 08:00:00"):
            Request._cron_send_invoice_links()
        self.assertEqual(len(emails(link)), 1)  # not before its day
        with freeze_time("2027-01-13 10:00:00"):
            Request._cron_send_invoice_links()
        reminder = emails(link)[0]  # newest first
        self.assertEqual(len(emails(link)), 2)
        self.assertIn("reminder", reminder.subject)
        self.assertIn("is still unpaid", reminder.body)
        self.assertIn(invoice.name, reminder.body)
        self.assertIn(html_escape(link.payment_link), reminder.body)
        self.assertEqual((link.reminder_count, str(link.remind_at)), (1, "2027-01-20 10:00:00"))
        with freeze_time("2027-01-20 11:00:00"):
            Request._cron_send_invoice_links()
        self.assertEqual((len(emails(link)), link.reminder_count), (3, 2))
        self.assertFalse(link.remind_at)  # the schedule is done
        with freeze_time("2027-02-20 11:00:00"):
            Request._cron_send_invoice_links()
        self.assertEqual(len(emails(link)), 3)
        # Reminders turned off on the account: the one planned is not sent.
        with freeze_time("2027-01-10 09:00:00"):
            third = self._posted_invoice(self.sub, 7000.0)
            Request._cron_send_invoice_links()
        link = Request.search([("invoice_id", "=", third.id)])
        self.assertTrue(link.remind_at)
        self.account.link_reminder_days = False
        with freeze_time("2027-01-13 10:00:00"):
            Request._cron_send_invoice_links()
        self.assertEqual((len(emails(link)), link.remind_at), (1, False))
        self.account.link_reminder_days = "3, 7"
        # Paid another way before its reminder: withdrawn, not reminded.
        with freeze_time("2027-01-10 09:00:00"):
            other = self._posted_invoice(self.sub, 9000.0)
            Request._cron_send_invoice_links()
        link = Request.search([("invoice_id", "=", other.id)])
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=other.ids
        ).create({})._create_payments()
        with freeze_time("2027-01-13 10:00:00"):
            Request._cron_send_invoice_links()
        self.assertEqual((link.state, len(emails(link))), ("withdrawn", 1))
        # The schedule is checked as the retries' is.
        with self.assertRaisesRegex(ValidationError, "Remind After"):
            self.account.link_reminder_days = "3, soon"

    def test_a_link_sent_by_hand_is_reminded_too(self):
        self.account.link_reminder_days = "3"
        invoice = self._posted_invoice(self.sub, 15000.0)  # no link for it by itself
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        link = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.assertEqual((link.invoice_id, link.remind_at), (invoice, False))
        # The CSM presses Send by Email and sends it as it comes.
        context = link.with_user(self.cs_user).action_send_by_email()["context"]
        composer = self.env["mail.compose.message"].with_user(self.cs_user).with_context(context)
        with freeze_time("2027-01-10 09:00:00"):
            composer.create({}).action_send_mail()
        self.assertEqual(str(link.remind_at), "2027-01-13 09:00:00")
        # A note on the link plans nothing.
        link.remind_at = False
        link.message_post(body="Called the customer", message_type="comment")
        self.assertFalse(link.remind_at)

    def test_a_posted_invoice_gets_its_payment_link_by_email(self):
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        invoice.button_draft()
        self.account.invoice_payment_links = True
        # Posted by an accountant, who has no rights on Customer Success.
        accountant = new_test_user(
            self.env, login="links_accountant", groups="account.group_account_invoice"
        )
        invoice.with_user(accountant).action_post()
        request = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual(
            (request.state, request.subscription_id, request.amount), ("draft", self.sub, 15000.0)
        )
        cron = self.env.ref("customer_success.ir_cron_invoice_payment_links")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        # Reset to draft and posted again: still one link for the invoice.
        invoice.button_draft()
        invoice.action_post()
        self.assertEqual(Request.search_count([("invoice_id", "=", invoice.id)]), 1)
        Request._cron_send_invoice_links()
        self.assertEqual(request.state, "waiting")
        query = dict(parse_qsl(urlsplit(request.payment_link).query))
        self.assertEqual((query["OutSum"], query["Shp_invoice"]), ("15000.00", invoice.name))
        sent = request.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(sent), 1)
        self.assertIn(self.customer, sent.notification_ids.res_partner_id)
        self.assertIn(html_escape(request.payment_link), sent.body)
        self.assertEqual(sent.author_id, self.cs_user.partner_id)  # from the CSM
        # The customer pays through the link: the invoice is paid.
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        self.post(result_params(inv_id="900002", out_sum="15000.000000", **shp))
        self.process(state_xml())
        self.assertEqual(request.state, "processed")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_invoice_links_only_where_asked_and_due(self):
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)  # the option is off
        self.assertFalse(Request.search([("invoice_id", "=", invoice.id)]))
        self.account.invoice_payment_links = True
        paid = self._posted_invoice(self.sub, 0.0)  # nothing to pay
        self.assertFalse(Request.search([("invoice_id", "=", paid.id)]))
        # Paid another way before the job ran: the queued link is cancelled, not sent.
        late = self._posted_invoice(self.sub, 9000.0)
        request = Request.search([("invoice_id", "=", late.id)])
        late.button_draft()
        late.button_cancel()
        Request._cron_send_invoice_links()
        self.assertEqual(request.state, "cancelled")
        self.assertIn(late.name, request.last_message)
        self.assertFalse(request.payment_link)
        self.assertFalse(request.message_ids.filtered(lambda m: m.message_type == "comment"))

        # Whatever goes wrong stays with its link: never a queue stuck behind it.
        def link_sent(amount, *patched):
            """The link of a new invoice of ``amount``, after the job ran with
            ``patched`` ``(class, method, exception)``."""
            with (
                patch.object(*patched[:2], side_effect=patched[2]),
                mute_logger("odoo.addons.customer_success.models.cs_billing_event_kaspi"),
            ):
                invoice = self._posted_invoice(self.sub, amount)
                Request._cron_send_invoice_links()
            return Request.search([("invoice_id", "=", invoice.id)])

        request = link_sent(700.0, type(Request), "_send_robokassa", KeyError("OutSum"))
        self.assertEqual((request.state, request.last_message), ("error", "'OutSum'"))
        Composer = type(self.env["mail.compose.message"])
        request = link_sent(800.0, Composer, "action_send_mail", RuntimeError("SMTP down"))
        self.assertEqual(request.state, "waiting")
        self.assertEqual(request.last_message, "Not emailed: SMTP down")
        # A customer without an email: the link is made and said not emailed.
        self.customer.email = False
        request = Request.search([("invoice_id", "=", self._posted_invoice(self.sub, 500.0).id)])
        Request._cron_send_invoice_links()
        self.assertEqual(request.state, "waiting")
        self.assertIn("no email address", request.last_message)

    def test_payment_link_in_the_browser(self):
        self.sub.amount_due = 15000.0
        self.cs_user.write({"password": "cs_user"})
        self.start_tour(
            "/odoo/action-subscription_oca.sale_subscription_action/%d" % self.sub.id,
            "customer_success_payment_link_tour",
            login="cs_user",
        )
        request = self.env["cs.billing.payment.request"].search(
            [("subscription_id", "=", self.sub.id)]
        )
        self.assertEqual((request.state, request.amount), ("waiting", 15000.0))

    def test_a_second_press_in_the_browser_opens_the_waiting_link(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        first = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.assertEqual((first.state, first.invoice_id), ("waiting", invoice))
        self.cs_user.write({"password": "cs_user"})
        self.start_tour(
            "/odoo/action-subscription_oca.sale_subscription_action/%d" % self.sub.id,
            "customer_success_payment_link_again_tour",
            login="cs_user",
        )
        self.assertEqual(
            self.env["cs.billing.payment.request"].search([("subscription_id", "=", self.sub.id)]),
            first,
        )

    def test_payment_link_carries_the_receipt_when_the_shop_fiscalises(self):
        self.account.write({"receipt_vat_code": "11", "receipt_tax_system": "1"})
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        request = self.env["cs.billing.payment.request"].browse(action["res_id"])
        query = dict(parse_qsl(urlsplit(request.payment_link).query))
        receipt = json.loads(unquote_plus(query["Receipt"]))
        self.assertEqual(receipt["sno"], "osn")
        self.assertEqual(
            [(i["name"], i["sum"], i["tax"]) for i in receipt["items"]],
            [(request._link_description(), 15000.0, "vat22")],
        )
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        base = ":".join(
            [LOGIN, "15000.00", "", query["Receipt"], PASSWORD1]
            + ["%s=%s" % item for item in sorted(shp.items())]
        )
        self.assertEqual(query["SignatureValue"], hashlib.md5(base.encode()).hexdigest())
        # Robokassa's receipts know no ENVD: refused when the account is saved.
        with self.assertRaises(ValidationError) as refused:
            self.account.receipt_tax_system = "4"
        self.assertIn("Imputed income (ENVD)", str(refused.exception))

    def test_payment_link_without_password_1_is_refused_clearly(self):
        self.account.api_key = False
        with self.assertRaises(UserError) as refused:
            self.sub.action_cs_payment_link()
        self.assertIn("Password #1 are not configured", str(refused.exception))

    def test_payment_link_refuses_another_currency(self):
        usd_sub = self._subscription(
            partner=self.env["res.partner"].create({"name": "Dollar LLP", "is_company": True}),
            price=100.0,
            billing_account_id=self.account.id,
        )
        with self.assertRaises(UserError) as refused:  # in a savepoint
            usd_sub.action_cs_payment_link()
        self.assertIn("billed in USD", str(refused.exception))
        self.assertFalse(
            self.env["cs.billing.payment.request"].search([("subscription_id", "=", usd_sub.id)])
        )

    def test_trouble_with_robokassa_is_retried_with_a_clear_error(self):
        self.post(result_params(Shp_subscription=self.sub.code))
        with mute_logger("odoo.addons.customer_success.models.cs_billing_event"):
            self.process(error=requests.ConnectionError("connection refused"))
            event = self.events()
            self.assertEqual((event.state, event.attempts), ("received", 1))
            self.assertIn("Robokassa unreachable", event.error)
            self.reprocess(event, state_xml(result=1, description="Неверная подпись"))
        self.assertIn("Неверная подпись", event.error)

    def test_password_and_url_for_admins_only(self):
        account = self.account.with_user(self.cs_manager)
        for field in ("webhook_secret", "robokassa_api_url"):
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.read([field])
        with self.assertRaises(AccessError):
            account.write({"robokassa_api_url": "https://attacker.example"})
        self.assertTrue(account.webhook_url.endswith(self.url))

    # ------------------------------------------------------------------
    # Links numbered here: asked of OpStateExt when their notification does not come
    # ------------------------------------------------------------------
    def _numbered_link(self, made="2026-09-21 10:00:00"):
        """A link numbered here, made at ``made`` (the transaction's clock, which Odoo
        stamps records with, is not the frozen one)."""
        self.account.robokassa_invoice_start = 1000000000
        invoice = self._posted_invoice(self.sub, 15000.0)
        self.sub.amount_due = 15000.0
        with freeze_time(made):
            action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        request = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.env.cr.execute(
            "UPDATE cs_billing_payment_request SET create_date = %s WHERE id = %s",
            [made, request.id],
        )
        request.invalidate_recordset(["create_date"])
        return request, invoice

    def ask(self, *answers, at="2026-09-21 12:00:00"):
        """Run the asking job at ``at``; OpStateExt answers ``answers`` (XML) in turn."""
        replies = [Mock(status_code=200, content=xml.encode()) for xml in answers]
        with (
            freeze_time(at),
            patch.object(robokassa_adapter.requests, "get", side_effect=replies) as api,
        ):
            self.env["cs.billing.payment.request"]._cron_ask_providers()
        return api

    def test_a_numbered_link_carries_its_invoice_number_signed(self):
        request, _invoice = self._numbered_link()
        inv_id = str(1000000000 + request.id)
        self.assertEqual((request.external_id, str(request.next_poll_at)),
                         (inv_id, "2026-09-21 11:00:00"))  # fmt: skip
        query = dict(parse_qsl(urlsplit(request.payment_link).query))
        self.assertEqual(query["InvId"], inv_id)
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        base = ":".join(
            [LOGIN, "15000.00", inv_id, PASSWORD1] + ["%s=%s" % kv for kv in sorted(shp.items())]
        )
        self.assertEqual(query["SignatureValue"], hashlib.md5(base.encode()).hexdigest())
        # A negative start is refused; none (the default) leaves numbering to Robokassa.
        with self.assertRaises(ValidationError):
            self.account.robokassa_invoice_start = -1

    def test_a_payment_whose_notification_did_not_come_is_asked_and_applied(self):
        self.account.user_id = self.cs_manager
        request, invoice = self._numbered_link()
        inv_id = request.external_id
        # Not opened yet (OpStateExt knows no such invoice), then opened but not paid.
        self.ask(state_xml(result=3, description="Информация об операции не найдена"))
        self.assertEqual((request.state, str(request.next_poll_at)),
                         ("waiting", "2026-09-21 13:00:00"))  # fmt: skip
        self.ask(state_xml(code=5), at="2026-09-21 13:00:00")
        self.assertIn("initiated, not paid", request.last_message)
        self.assertFalse(self.events())
        # Paid, and no ResultURL came: it goes into the inbox under the notification's key.
        api = self.ask(state_xml(code=100), at="2026-09-21 14:00:00")
        self.assertEqual(api.call_args.kwargs["params"]["InvoiceID"], inv_id)
        event = self.events()
        self.assertEqual((event.external_id, request.event_id), (inv_id, event))
        self.assertEqual(str(request.notification_missed_at), "2026-09-21 14:00:00")
        self.assertFalse(request.next_poll_at)
        self.assertIn("Robokassa's notification of this payment did not come",
                      request.message_ids[0].body)  # fmt: skip
        todo = self.account.activity_ids
        self.assertEqual(todo.summary, "Robokassa notifications missed")
        self.assertEqual(todo.user_id, self.cs_manager)
        self.assertIn("Result URL", todo.note)
        self.process(state_xml())  # applying it asks OpStateExt again
        self.assertEqual(event.state, "processed", event.error)
        self.assertEqual((request.state, event.subscription_id), ("processed", self.sub))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # The notification, late: a duplicate, answered as Robokassa expects.
        query = dict(parse_qsl(urlsplit(request.payment_link).query))
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        response = self.post(result_params(inv_id=inv_id, **shp))
        self.assertEqual(response.text, "OK%s" % inv_id)
        self.assertEqual(self.events(), event)
        self.assertEqual(len(invoice.matched_payment_ids), 1)

    def test_robokassa_unreachable_or_a_link_left_a_month(self):
        request, _invoice = self._numbered_link(made="2026-09-01 10:00:00")
        with (
            freeze_time("2026-09-01 12:00:00"),
            patch.object(
                robokassa_adapter.requests, "get", side_effect=requests.ConnectionError("down")
            ),
        ):
            self.env["cs.billing.payment.request"]._cron_ask_providers()
        self.assertIn("Robokassa was not reached about this payment", request.last_message)
        self.assertEqual(str(request.next_poll_at), "2026-09-01 13:00:00")
        # A day old: every six hours; a month old: not asked any more.
        self.ask(state_xml(result=3), at="2026-09-03 12:00:00")
        self.assertEqual(str(request.next_poll_at), "2026-09-03 18:00:00")
        self.ask(state_xml(result=3), at="2026-10-02 12:00:00")
        self.assertFalse(request.next_poll_at)
        self.assertEqual(request.state, "waiting")  # its notification still settles it

    def test_links_numbered_by_robokassa_are_not_asked_about(self):
        self.sub.amount_due = 15000.0
        action = self.sub.with_user(self.cs_user).action_cs_payment_link()
        request = self.env["cs.billing.payment.request"].browse(action["res_id"])
        self.assertEqual((request.external_id, request.next_poll_at), (False, False))
        self.assertNotIn("InvId", dict(parse_qsl(urlsplit(request.payment_link).query)))
        api = self.ask()
        api.assert_not_called()

    def test_the_upgrade_to_1_18_makes_the_yookassa_job_ask_robokassa_too(self):
        job = self.env.ref("customer_success.ir_cron_yookassa_poll")
        job.write({"code": "model._cron_poll_yookassa()", "interval_number": 20})
        load_migration("18.0.1.18.0").migrate(self.env.cr, "18.0.1.17.0")
        self.assertEqual(job.code, "model._cron_ask_providers()")
        self.assertIn("Robokassa", job.name)
        self.assertEqual(job.interval_number, 20)  # as the administrator set it

    # ------------------------------------------------------------------
    # Autopayments: a card paid with is charged again (Merchant/Recurring)
    # ------------------------------------------------------------------
    def _autopay_account(self, card=False):
        self.account.write(
            {
                "robokassa_invoice_start": 1000000000,
                "autopayments": True,
                "invoice_payment_links": True,
            }
        )
        if card:
            self.sub.sudo().write(
                {
                    "cs_payment_method_ref": "1000000007",
                    "cs_payment_method_title": "Robokassa card 411111******1111",
                }
            )

    @staticmethod
    def recurring_ok(url, data, timeout):
        return Mock(status_code=200, text="OK%s" % data["InvoiceID"])

    def _charged_invoice(self, at="2026-09-21 10:00:00"):
        """An invoice posted and charged to the saved card by the job at ``at``, Robokassa
        taking the charge: (invoice, its charge)."""
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        with (
            freeze_time(at),
            patch.object(robokassa_adapter.requests, "post", side_effect=self.recurring_ok),
        ):
            Request._cron_send_invoice_links()
        return invoice, Request.search([("invoice_id", "=", invoice.id)])

    def test_autopayments_need_links_numbered_here(self):
        with self.assertRaisesRegex(ValidationError, "Number Links From"):
            self.account.autopayments = True

    def test_a_card_paid_with_is_charged_for_the_next_invoices(self):
        self._autopay_account()
        Request = self.env["cs.billing.payment.request"]
        # The first invoice's link asks Robokassa to let the card be charged again.
        invoice = self._posted_invoice(self.sub, 15000.0)
        Request._cron_send_invoice_links()
        mother = Request.search([("invoice_id", "=", invoice.id)])
        query = dict(parse_qsl(urlsplit(mother.payment_link).query))
        self.assertEqual((query["Recurring"], query["InvId"]), ("true", mother.external_id))
        # The customer pays it by card: its card is kept, named as OpStateExt gives it.
        shp = {key: value for key, value in query.items() if key.startswith("Shp_")}
        self.post(result_params(inv_id=mother.external_id, **shp))
        self.process(state_xml())
        self.assertEqual(
            self.events().mapped("state"), ["processed"], self.events().mapped("error")
        )
        self.assertEqual(mother.state, "processed")
        self.assertEqual(
            (self.sub.cs_payment_method_ref, self.sub.cs_payment_method_title),
            (mother.external_id, "Robokassa card 411111******1111"),
        )
        # The next invoice is charged to it: no link, no email.
        invoice = self._posted_invoice(self.sub, 15000.0)
        post = patch.object(robokassa_adapter.requests, "post", side_effect=self.recurring_ok)
        with post as call:
            Request._cron_send_invoice_links()
        charge = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual(
            (charge.state, charge.autopayment, charge.attempt, charge.payment_link),
            ("waiting", True, 1, False),
        )
        self.assertEqual(call.call_args.args[0], "https://auth.robokassa.ru/Merchant/Recurring")
        data = call.call_args.kwargs["data"]
        self.assertEqual(
            (data["MerchantLogin"], data["InvoiceID"], data["PreviousInvoiceID"], data["OutSum"]),
            (LOGIN, charge.external_id, mother.external_id, "15000.00"),
        )
        shp = {key: value for key, value in data.items() if key.startswith("Shp_")}
        self.assertEqual(shp["Shp_request"], str(charge.id))
        base = ":".join(
            [LOGIN, "15000.00", charge.external_id, PASSWORD1]
            + ["%s=%s" % kv for kv in sorted(shp.items())]
        )
        self.assertEqual(data["SignatureValue"], hashlib.md5(base.encode()).hexdigest())
        self.assertFalse(charge.message_ids.filtered(lambda m: m.message_type == "comment"))
        # Paid: its notification comes as any payment's does.
        self.post(result_params(inv_id=charge.external_id, **shp))
        self.process(state_xml())
        self.assertEqual(charge.state, "processed")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self.sub.cs_payment_method_ref, mother.external_id)  # the same card

    def test_a_declined_charge_is_a_failed_payment_charged_again(self):
        self._autopay_account(card=True)
        self.account.write({"autopay_retry_days": "3, 5", "failure_payment_link": True})
        self.customer.write({"csm_id": self.cs_user.id, "email": "finance@altyn.example"})
        Request = self.env["cs.billing.payment.request"]
        invoice, charge = self._charged_invoice()
        self.assertEqual((charge.state, str(charge.next_poll_at)),
                         ("waiting", "2026-09-21 11:00:00"))  # fmt: skip
        # Robokassa notifies no decline: OpStateExt says the charge was cancelled.
        self.ask(state_xml(code=10), at="2026-09-21 11:00:00")
        declined = self.events()
        self.assertEqual(
            (declined.event_type, declined.external_id),
            ("recurring.declined", "declined:%s" % charge.external_id),
        )
        self.assertFalse(charge.notification_missed_at)  # none was to come
        self.assertFalse(self.account.activity_ids)
        self.process(state_xml(code=10))
        self.assertEqual(declined.state, "processed", declined.error)
        self.assertEqual((charge.state, self.sub.payment_status), ("cancelled", "failed"))
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual((retry.attempt, str(retry.retry_at)), (2, "2026-09-24 11:00:00"))
        todo = self.sub.activity_ids.filtered(lambda a: a.summary.startswith("Payment failed"))
        self.assertEqual(todo.user_id, self.cs_user)
        self.assertIn("Robokassa declined the charge of the saved card", todo.note)
        self.assertIn("charged again on", todo.note)
        mail = self.env["mail.mail"].search(
            [("model", "=", "sale.subscription"), ("res_id", "=", self.sub.id)]
        )
        self.assertEqual(len(mail), 1)  # the failed-payment email to the client
        # ... with a link to pay at once, which would save the card again.
        link = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "waiting")])
        self.assertEqual((link.autopayment, link.retry_at), (False, False))
        self.assertIn(html_escape(link.payment_link), mail.body_html)
        self.assertIn("Recurring=true", link.payment_link)
        # The retry is charged when due, under a number of its own.
        with (
            freeze_time("2026-09-24 12:00:00"),
            patch.object(robokassa_adapter.requests, "post", side_effect=self.recurring_ok) as call,
        ):
            Request._cron_send_invoice_links()
        self.assertEqual((retry.state, retry.autopayment), ("waiting", True))
        self.assertEqual(call.call_args.kwargs["data"]["InvoiceID"], retry.external_id)
        self.assertNotEqual(retry.external_id, charge.external_id)

    def test_a_card_declined_on_every_retry_is_charged_no_more(self):
        self._autopay_account(card=True)
        self.account.autopay_retry_days = "3"
        Request = self.env["cs.billing.payment.request"]
        invoice, charge = self._charged_invoice()
        self.assertEqual(charge.sudo().card_ref, "1000000007")
        self.ask(state_xml(code=10), at="2026-09-21 11:00:00")
        self.process(state_xml(code=10))
        retry = Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")])
        self.assertEqual((retry.attempt, str(retry.retry_at)), (2, "2026-09-24 11:00:00"))
        self.assertEqual(self.sub.cs_payment_method_ref, "1000000007")  # retried first
        with (
            freeze_time("2026-09-24 12:00:00"),
            patch.object(robokassa_adapter.requests, "post", side_effect=self.recurring_ok),
        ):
            Request._cron_send_invoice_links()
        self.ask(state_xml(code=10), at="2026-09-24 13:00:00")
        self.process(state_xml(code=10))
        self.assertEqual(self.events()[-1].state, "processed", self.events()[-1].error)
        # Robokassa gives no reason: a card declined for days is charged no more.
        self.assertFalse(self.sub.cs_payment_method_ref)
        todo = self.sub.activity_ids.filtered(lambda a: a.summary.startswith("Payment failed"))
        self.assertIn("That was the last retry", todo.note)
        self.assertIn("the next ones", todo.note)
        self.assertIn(
            "Robokassa card 411111******1111 was declined on all 2 charges",
            str(self.sub.message_ids.mapped("body")),
        )
        # The next invoice gets a link asking for the card again, not a charge.
        later = self._posted_invoice(self.sub, 15000.0)
        with patch.object(robokassa_adapter.requests, "post") as post:
            Request._cron_send_invoice_links()
        post.assert_not_called()
        link = Request.search([("invoice_id", "=", later.id)])
        self.assertEqual((link.autopayment, link.state), (False, "waiting"))
        self.assertIn("Recurring=true", link.payment_link)

    def test_robokassa_refusing_a_charge_sends_a_link_instead(self):
        self._autopay_account(card=True)
        Request = self.env["cs.billing.payment.request"]
        invoice = self._posted_invoice(self.sub, 15000.0)
        refused = Mock(status_code=200, text="ERROR: recurring payments are off")
        with patch.object(robokassa_adapter.requests, "post", return_value=refused):
            Request._cron_send_invoice_links()
        request = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual((request.state, request.autopayment), ("waiting", False))
        self.assertIn("Recurring=true", request.payment_link)
        self.assertIn("recurring payments are off", request.last_message)
        # By hand, the head of CS is told Robokassa's refusal and nothing is kept.
        self.sub.amount_due = 15000.0
        with (
            patch.object(robokassa_adapter.requests, "post", return_value=refused),
            self.assertRaisesRegex(UserError, "recurring payments are off"),
        ):
            self.sub.with_user(self.cs_manager).action_cs_charge_saved_card()

    def test_a_declined_charge_of_an_invoice_paid_meanwhile_is_not_chased(self):
        self._autopay_account(card=True)
        Request = self.env["cs.billing.payment.request"]
        invoice, charge = self._charged_invoice()
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()  # a bank transfer came first
        self.ask(state_xml(code=10), at="2026-09-21 11:00:00")
        self.process(state_xml(code=10))
        declined = self.events()
        self.assertEqual(declined.state, "processed", declined.error)
        self.assertIn("settled another way", declined.result)
        self.assertEqual(charge.state, "cancelled")
        self.assertNotEqual(self.sub.payment_status, "failed")
        self.assertFalse(Request.search([("invoice_id", "=", invoice.id), ("state", "=", "draft")]))

    def test_the_head_of_cs_stops_autopayments(self):
        self._autopay_account(card=True)
        Request = self.env["cs.billing.payment.request"]
        retry = Request.create(
            {
                "account_id": self.account.id,
                "subscription_id": self.sub.id,
                "amount": 15000.0,
                "currency_id": self.kzt.id,
                "attempt": 2,
                "retry_at": "2030-01-01 10:00:00",
            }
        )
        with self.assertRaises(AccessError):
            self.sub.with_user(self.cs_user).action_cs_forget_saved_card()
        self.sub.with_user(self.cs_manager).action_cs_forget_saved_card()
        self.assertFalse(self.sub.cs_payment_method_ref)
        self.assertEqual(retry.state, "cancelled")
        self.assertIn("stopped the autopayments from Robokassa card 411111******1111",
                      self.sub.message_ids[0].body)  # fmt: skip
        # The next invoice gets a link, not a charge.
        invoice = self._posted_invoice(self.sub, 15000.0)
        with patch.object(robokassa_adapter.requests, "post") as post:
            Request._cron_send_invoice_links()
        post.assert_not_called()
        link = Request.search([("invoice_id", "=", invoice.id)])
        self.assertEqual((link.state, link.autopayment), ("waiting", False))
        with self.assertRaisesRegex(UserError, "has no saved card"):
            self.sub.with_user(self.cs_manager).action_cs_forget_saved_card()
