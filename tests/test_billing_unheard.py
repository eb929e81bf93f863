# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date
from unittest.mock import patch

import stripe
from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase
from odoo.tests import tagged

from .common import CustomerSuccessCase
from .common import CustomerSuccessMixin
from .test_billing_stripe import stripe_endpoint
from .test_billing_stripe import stripe_list

TODAY = date(2026, 12, 1)


@tagged("post_install", "-at_install", "customer_success")
class TestUnheardRenewals(CustomerSuccessCase):
    """Renewals Stripe or CloudPayments told nothing of: the responsible's to-do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Account = cls.env["cs.billing.account"]
        cls.stripe = Account.create(
            {"name": "Stripe USD", "provider": "stripe", "user_id": cls.cs_manager.id}
        )
        cls.cloudpayments = Account.create(
            {"name": "CloudPayments RUB", "provider": "cloudpayments", "user_id": cls.cs_manager.id}
        )
        cls.kaspi = Account.create(
            {"name": "Kaspi KZT", "provider": "kaspi", "user_id": cls.cs_manager.id}
        )

        def billed(account, ref, due, **vals):
            return cls._subscription(
                billing_account_id=account.id,
                external_subscription_ref=ref,
                next_payment_date=due,
                payment_status=vals.pop("payment_status", "paid"),
                **vals,
            )

        cls.due = billed(cls.stripe, "sub_due", date(2026, 11, 25))
        cls.yesterday = billed(cls.stripe, "sub_recent", date(2026, 11, 30))
        cls.owing = billed(cls.stripe, "sub_owing", date(2026, 11, 20), payment_status="overdue")
        cls.paused = billed(cls.stripe, "sub_paused", date(2026, 11, 20), cs_paused=True)
        cls.unlinked = billed(cls.stripe, False, date(2026, 11, 20))
        cls.closed = billed(cls.stripe, "sub_closed", date(2026, 11, 20))
        cls.closed.stage_id = cls.stage_closed
        cls.by_kaspi = billed(cls.kaspi, "kaspi_1", date(2026, 11, 20))
        cls.by_cloudpayments = billed(cls.cloudpayments, "sc_1", date(2026, 11, 20))

    def alerts(self, account):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", account._name),
                ("res_id", "=", account.id),
                ("summary", "=", "Renewals unheard of"),
            ]
        )

    def test_which_renewals_are_unheard_of(self):
        rows = self.env["sale.subscription"]._cs_unheard_rows(today=TODAY)
        self.assertEqual(
            rows,
            [(self.cloudpayments.id, self.by_cloudpayments.id), (self.stripe.id, self.due.id)],
            "oldest due first; not the one due yesterday, one that owes, one paused, one the "
            "provider has no id of, a closed one, nor one Kaspi bills by invoice",
        )
        with freeze_time(TODAY):
            Sub = self.env["sale.subscription"].with_user(self.cs_user)
            self.assertEqual(
                Sub.search([("cs_renewal_unheard", "=", True)]), self.due | self.by_cloudpayments
            )
            heard = Sub.search([("cs_renewal_unheard", "!=", True)])
            self.assertIn(self.yesterday, heard)
            self.assertNotIn(self.due, heard)
            self.assertTrue(self.due.with_user(self.cs_user).cs_renewal_unheard)
            self.assertFalse(self.yesterday.cs_renewal_unheard)
            self.assertEqual(self.stripe.unheard_count, 1)
            self.assertEqual(self.kaspi.unheard_count, 0)
            action = self.stripe.action_view_unheard()
            self.assertEqual(self.env["sale.subscription"].search(action["domain"]), self.due)

    def test_an_event_since_the_due_day_is_word_of_the_renewal(self):
        """CloudPayments' Pay of a renewal does not tell the period it pays: any event
        of the subscription received since the day it was due is word of it."""
        Event = self.env["cs.billing.event"]
        Event.create(
            {
                "account_id": self.cloudpayments.id,
                "provider": "cloudpayments",
                "external_id": "pay:7001",
                "event_type": "pay",
                "state": "processed",
                "subscription_id": self.by_cloudpayments.id,
            }
        )
        self.env.cr.execute(
            "UPDATE cs_billing_event SET create_date = %s WHERE external_id = 'pay:7001'",
            ["2026-11-20 09:00:00"],
        )
        self.assertEqual(
            self.env["sale.subscription"]._cs_unheard_rows(today=TODAY),
            [(self.stripe.id, self.due.id)],
        )
        # An event from before the due day is no word of this renewal.
        self.env.cr.execute(
            "UPDATE cs_billing_event SET create_date = %s WHERE external_id = 'pay:7001'",
            ["2026-11-19 23:59:00"],
        )
        self.assertIn(
            (self.cloudpayments.id, self.by_cloudpayments.id),
            self.env["sale.subscription"]._cs_unheard_rows(today=TODAY),
        )

    def test_the_responsible_is_told_once_until_each_is_heard_of(self):
        Account = self.env["cs.billing.account"]
        Account._alert_unheard(today=TODAY)
        alert = self.alerts(self.stripe)
        self.assertEqual(alert.user_id, self.cs_manager)
        self.assertIn(self.due.display_name, alert.note)
        self.assertIn("Vostok LLP", alert.note)
        self.assertIn("Stripe has told nothing of the renewals", alert.note)
        self.assertIn("than 2 days ago (no payment, no failure, no new period): 1.", alert.note)
        self.assertIn("No event of this account has come yet.", alert.note)
        self.assertIn("Developers → Webhooks", alert.note)
        self.assertIn("Settings → Notifications", self.alerts(self.cloudpayments).note)
        self.assertFalse(self.alerts(self.kaspi))
        # The next day: the same to-do, brought up to date.
        self.yesterday.next_payment_date = date(2026, 11, 27)
        Account._alert_unheard(today=date(2026, 12, 2))
        self.assertEqual(self.alerts(self.stripe), alert)
        self.assertIn("new period): 2.", alert.note)
        self.assertIn(self.yesterday.display_name, alert.note)
        # Heard of (a payment moved the next payment date on): done by itself.
        (self.due | self.yesterday).next_payment_date = date(2026, 12, 25)
        Account._alert_unheard(today=date(2026, 12, 3))
        self.assertFalse(self.alerts(self.stripe))
        self.assertIn("Every renewal is heard of now.", self.stripe.message_ids[0].body)
        self.assertTrue(self.alerts(self.cloudpayments), "CloudPayments' is still unheard of")

    def test_stripe_says_what_is_wrong_when_the_account_has_a_key(self):
        self.stripe.api_key = "sk_test_key"
        disabled = stripe_endpoint(self.stripe.webhook_url, status="disabled")
        with (
            patch("stripe.WebhookEndpoint.list", return_value=stripe_list("/v1/x", [disabled])),
            patch("stripe.Event.list", return_value=stripe_list("/v1/events", [])),
        ):
            self.env["cs.billing.account"]._alert_unheard(today=TODAY)
        note = self.alerts(self.stripe).note
        self.assertIn("Stripe says: The endpoint is disabled at Stripe", note)
        # Stripe unreachable or refusing: the to-do says what to check all the same.
        self.alerts(self.stripe).unlink()
        refusal = stripe.AuthenticationError("Invalid API Key provided")
        with patch("stripe.WebhookEndpoint.list", side_effect=refusal):
            self.env["cs.billing.account"]._alert_unheard(today=TODAY)
        note = self.alerts(self.stripe).note
        self.assertNotIn("Stripe says", note)
        self.assertIn("Developers → Webhooks", note)

    def test_the_daily_job_looks(self):
        with freeze_time(TODAY):
            self.env["sale.subscription"]._cron_customer_success_daily()
        self.assertTrue(self.alerts(self.stripe))

    def test_a_long_list_names_the_oldest(self):
        self.stripe._sync_unheard_alert(self.due | self.yesterday, listed=1)
        note = self.alerts(self.stripe).note
        self.assertIn(self.due.display_name, note)
        self.assertNotIn(self.yesterday.display_name, note)
        self.assertIn("and 1 more", note)

    def test_no_alert_when_turned_off(self):
        self.stripe.unheard_after_days = 0
        self.assertEqual(
            self.env["sale.subscription"]._cs_unheard_rows(today=TODAY),
            [(self.cloudpayments.id, self.by_cloudpayments.id)],
        )
        self.stripe.unheard_after_days = 10
        self.assertFalse(self.env["sale.subscription"]._cs_unheard_rows(today=TODAY)[1:])
        for days in (-1, 61):
            with self.assertRaisesRegex(ValidationError, "between 1 and 60, or 0"):
                self.stripe.unheard_after_days = days
                self.stripe.flush_recordset()

    def test_a_russian_responsible_reads_it_in_russian(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        self.cs_manager.lang = "ru_RU"
        self.env["cs.billing.account"]._alert_unheard(today=TODAY)
        alert = self.stripe.activity_ids
        self.assertEqual(alert.summary, "Продления без вестей")
        self.assertIn("Stripe ничего не сообщил о продлении этих подписок", alert.note)
        self.assertIn("срок 25.11.2026", alert.note)
        self.assertIn("Developers → Webhooks", alert.note)


@tagged("post_install", "-at_install", "customer_success")
class TestUnheardRenewalsInTheBrowser(CustomerSuccessMixin, HttpCase):
    def test_the_responsible_finds_the_subscriptions_unheard_of(self):
        self._setup_customer_success()
        account = self.env["cs.billing.account"].create(
            {"name": "Stripe USD", "provider": "stripe", "user_id": self.cs_manager.id}
        )
        self._subscription(
            billing_account_id=account.id,
            external_subscription_ref="sub_due",
            next_payment_date=date(2026, 11, 1),
            payment_status="paid",
        )
        self.cs_manager.write({"password": "cs_manager"})
        self.start_tour(
            "/odoo/action-customer_success.cs_billing_account_action/%d" % account.id,
            "customer_success_renewals_unheard_tour",
            login="cs_manager",
        )
