# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date
from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestAccountSignals(CustomerSuccessCase):
    @freeze_time("2026-11-10")
    def test_sentiment_is_signed_and_expires(self):
        customer = self.customer.with_user(self.cs_user)
        customer.write({"cs_sentiment": "red", "cs_sentiment_note": "Champion left"})
        self.assertEqual(customer.cs_sentiment_user_id, self.cs_user)
        self.assertEqual(customer.cs_sentiment_date, date(2026, 11, 10))
        self.assertEqual(customer.cs_sentiment_until, date(2026, 12, 10))
        with self.assertRaises(ValidationError):
            customer.write({"cs_sentiment": "yellow", "cs_sentiment_until": date(2026, 11, 1)})
        with freeze_time("2026-12-11"):
            self.env["res.partner"]._cron_refresh_signals()
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.cs_sentiment)
        self.assertFalse(self.customer.cs_sentiment_note)

    @freeze_time("2026-11-10")
    def test_native_signals(self):
        sub = self._subscription(price=100.0)
        self.assertTrue(self.customer.cs_is_account)
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "subscription_id": sub.id,
                "invoice_date": date(2026, 10, 1),
                "invoice_date_due": date(2026, 10, 15),
                "invoice_line_ids": [(0, 0, {"name": "Pro", "quantity": 1, "price_unit": 100.0})],
            }
        )
        invoice.action_post()
        sub.payment_status = "failed"
        contact = self.env["res.partner"].create(
            {"name": "Almat", "parent_id": self.customer.id, "email": "almat@vostok.kz"}
        )
        self.customer.message_post(
            body="Can we get a discount?", author_id=contact.id, message_type="email"
        )
        self.env["mail.message"].search([("author_id", "=", contact.id)]).date = datetime(
            2026, 10, 1, 9, 0
        )
        sub.activity_schedule(
            "mail.mail_activity_data_todo", date_deadline=date(2026, 11, 1), user_id=self.cs_user.id
        )
        # A message from our own staff is not the customer writing.
        self.customer.message_post(body="Called them", message_type="comment")
        self.env["res.partner"]._cron_refresh_signals()
        customer = self.customer
        self.assertEqual(customer.cs_overdue_invoice_count, 1)
        self.assertAlmostEqual(customer.cs_overdue_amount, 100.0)
        self.assertEqual(customer.cs_failed_payment_count, 1)
        self.assertEqual(customer.cs_last_inbound_date, datetime(2026, 10, 1, 9, 0))
        self.assertEqual(customer.cs_days_silent, 40)
        self.assertEqual(customer.cs_overdue_activity_count, 1)
        self.assertEqual(customer.cs_signals_date, date(2026, 11, 10))
