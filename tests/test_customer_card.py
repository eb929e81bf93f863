# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date
from datetime import timedelta

from odoo import fields
from odoo.tests import Form
from odoo.tests import HttpCase
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import CustomerSuccessCase
from .common import CustomerSuccessMixin


class CardDataMixin:
    @classmethod
    def _card_customer(cls):
        """A customer with a USD and a KZT subscription, one invoice overdue."""
        customer = cls.env["res.partner"].create(
            {
                "name": "Card Test Customer",
                "is_company": True,
                "csm_id": cls.cs_user.id,
                "email": "ops@cardtest.example",
            }
        )
        today = fields.Date.today()
        usd = cls._subscription(partner=customer, price=1000.0)
        kzt = cls._subscription(
            partner=customer, price=600000.0, currency=cls.kzt, template=cls.yearly
        )
        usd.renewal_date = today + timedelta(days=20)
        kzt.renewal_date = today + timedelta(days=200)
        cls.env["res.currency.rate"].create(
            {
                "currency_id": cls.kzt.id,
                "name": today,
                "rate": 500.0,
                "company_id": cls.company.id,
            }
        )
        kzt._cs_refresh_fx(today=today)
        invoice = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": customer.id,
                "subscription_id": usd.id,
                "invoice_date": today - timedelta(days=40),
                "invoice_date_due": today - timedelta(days=30),
                "invoice_line_ids": [(0, 0, {"name": "Pro", "quantity": 1, "price_unit": 1000.0})],
            }
        )
        invoice.action_post()
        return customer, usd, kzt


@tagged("post_install", "-at_install", "customer_success")
class TestCustomerCard(CardDataMixin, CustomerSuccessCase):
    def test_card_opens_with_two_currencies(self):
        customer, usd, kzt = self._card_customer()
        self.assertEqual(usd.payment_status, "overdue")
        # Owing since its oldest unpaid invoice fell due.
        self.assertEqual(usd.cs_unpaid_since, date.today() - timedelta(days=30))
        self.assertFalse(kzt.cs_unpaid_since)
        card = Form(
            customer.with_user(self.cs_user), view="customer_success.res_partner_view_form_cs"
        )
        # 1000 USD + 600000 KZT a year = 50000 KZT a month at 500 KZT per USD = 100 USD.
        self.assertAlmostEqual(card.cs_mrr, 1100.0)
        self.assertAlmostEqual(card.cs_arr, 13200.0)
        self.assertEqual(card.cs_payment_status, "overdue")
        self.assertAlmostEqual(card.cs_amount_due, 1000.0)
        self.assertEqual(
            fields.Date.to_date(card.next_renewal_date), date.today() + timedelta(days=20)
        )
        self.assertEqual(card.cs_days_to_renewal, 20)
        self.assertEqual(card.csm_id, self.cs_user)
        self.assertEqual(len(card.cs_subscription_ids), 2)
        self.assertEqual(
            set(customer.cs_subscription_ids.currency_id.mapped("name")), {"USD", "KZT"}
        )

    def test_accounts_views_load(self):
        action = (
            self.env["ir.actions.act_window"]
            .with_user(self.cs_user)
            ._for_xml_id("customer_success.res_partner_action_cs_accounts")
        )
        views = (
            self.env["res.partner"]
            .with_user(self.cs_user)
            .get_views(action["views"] + [(action["search_view_id"][0], "search")])
        )
        self.assertEqual(set(views["views"]), {"list", "kanban", "form", "search"})
        customer, _usd, _kzt = self._card_customer()
        env = self.env(user=self.cs_user)
        today = fields.Date.today()
        domain = action["domain"]
        mine = env["res.partner"].search(safe_eval(domain) + [("csm_id", "=", self.cs_user.id)])
        self.assertIn(customer, mine)
        renewing = env["res.partner"].search(
            safe_eval(domain)
            + [
                ("next_renewal_date", ">=", today),
                ("next_renewal_date", "<=", today + timedelta(days=30)),
            ]
        )
        self.assertIn(customer, renewing)
        overdue = env["res.partner"].search(
            safe_eval(domain) + [("cs_payment_status", "in", ("overdue", "failed"))]
        )
        self.assertIn(customer, overdue)
        groups = env["res.partner"].read_group(safe_eval(domain), ["cs_mrr:sum"], ["cs_segment"])
        self.assertTrue(groups)


@tagged("post_install", "-at_install", "customer_success")
class TestCustomerCardTour(CardDataMixin, CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.cs_user.write({"password": "cs_user"})
        cls._card_customer()

    def test_csm_reads_the_customer_card(self):
        self.start_tour("/odoo", "customer_success_card_tour", login="cs_user")
