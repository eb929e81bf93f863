# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from freezegun import freeze_time

from odoo.tests import Form
from odoo.tests import tagged

from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestSubscriptionMrr(CustomerSuccessCase):
    def test_normalisation_every_interval(self):
        cases = [
            ("days", 1, 10.0, 304.38),
            ("days", 14, 140.0, 304.38),
            ("days", 30, 300.0, 304.38),
            ("weeks", 1, 70.0, 304.38),
            ("weeks", 2, 140.0, 304.38),
            ("weeks", 4, 280.0, 304.38),
            ("months", 1, 100.0, 100.0),
            ("months", 3, 300.0, 100.0),
            ("months", 6, 600.0, 100.0),
            ("years", 1, 1200.0, 100.0),
            ("years", 2, 2400.0, 100.0),
            ("years", 3, 3000.0, 83.33),
        ]
        for rule, interval, price, expected in cases:
            with self.subTest(rule=rule, interval=interval):
                template = self._template(rule, interval)
                for currency in (self.usd, self.kzt):
                    sub = self._subscription(template=template, price=price, currency=currency)
                    self.assertEqual(sub.currency_id, currency)
                    self.assertAlmostEqual(sub.mrr, expected, places=2)
                    self.assertAlmostEqual(sub.arr, sub.mrr * 12, places=2)

    def test_discount_quantity_and_tax(self):
        tax = self.env["account.tax"].create(
            {"name": "VAT 12%", "amount": 12.0, "type_tax_use": "sale"}
        )
        sub = self._subscription(price=100.0, qty=3)
        sub.sale_subscription_line_ids.write({"tax_ids": [(6, 0, tax.ids)], "discount": 10.0})
        self.assertAlmostEqual(sub.amount_total, 270.0 * 1.12)
        # 3 x 100 - 10 %, before tax.
        self.assertAlmostEqual(sub.mrr, 270.0)
        self.assertAlmostEqual(sub.arr, 3240.0)

    @freeze_time("2026-03-15")
    def test_company_currency_at_rate_of_the_day(self):
        sub = self._subscription(price=50000.0, currency=self.kzt)
        self.assertAlmostEqual(sub.mrr, 50000.0)
        self.assertAlmostEqual(sub.mrr_company, 100.0)  # 500 KZT per USD in March
        with freeze_time("2026-07-01"):
            self.env["sale.subscription"]._cs_refresh_fx()
            self.assertAlmostEqual(sub.mrr_company, 125.0)  # 400 KZT per USD in June

    def test_not_running_is_not_mrr(self):
        draft = self._subscription(start=False)
        self.assertEqual(draft.mrr, 0.0)
        trial = self._subscription(cs_is_trial=True)
        self.assertEqual(trial.mrr, 0.0)
        zero = self._subscription(price=0.0)
        self.assertEqual(zero.mrr, 0.0)
        running = self._subscription()
        running.close_subscription()
        self.assertEqual(running.mrr, 0.0)

    @freeze_time("2026-03-15")
    def test_customer_totals_two_currencies(self):
        self._subscription(price=100.0)
        self._subscription(price=50000.0, currency=self.kzt, template=self.yearly)
        customer = self.customer
        # 100 USD + 50000 KZT / 12 months at 500 KZT per USD
        self.assertAlmostEqual(customer.cs_mrr, 100.0 + 50000.0 / 12 / 500, places=2)
        self.assertAlmostEqual(customer.cs_arr, customer.cs_mrr * 12, places=2)
        self.assertTrue(customer.cs_is_account)
        self.assertEqual(customer.cs_running_count, 2)
        self.assertEqual(customer.customer_since.isoformat(), "2026-03-15")
        self.assertIn("years x1", customer.cs_plan_names)

    def test_renewal_date_and_days_left(self):
        limited = self.env["sale.subscription.template"].create(
            {
                "name": "Annual contract",
                "recurring_rule_type": "years",
                "recurring_interval": 1,
                "recurring_rule_boundary": "limited",
                "recurring_rule_count": 12,
            }
        )
        sub = self._subscription(template=limited)
        self.assertEqual(sub.renewal_date.isoformat(), "2027-03-01")
        customer = self.customer.with_context(cs_today="2027-01-30")
        self.assertEqual(customer.next_renewal_date.isoformat(), "2027-03-01")
        self.assertEqual(customer.cs_days_to_renewal, 30)

    def test_segment_from_thresholds(self):
        self.company.write({"cs_segment_mid_arr": 1000.0, "cs_segment_enterprise_arr": 50000.0})
        self._subscription(price=100.0)  # ARR 1200
        self.assertEqual(self.customer.cs_segment, "mid_market")
        self.customer.cs_team_size = 400
        self.assertEqual(self.customer.cs_segment, "enterprise")
        # A manual segment survives threshold changes.
        self.customer.write({"cs_segment_locked": True, "cs_segment": "smb"})
        self.env["res.partner"]._cs_recompute_segments(self.company)
        self.assertEqual(self.customer.cs_segment, "smb")
        other = self.env["res.partner"].create(
            {"name": "Altyn JSC", "is_company": True, "company_id": self.company.id}
        )
        self._subscription(partner=other, price=100.0)
        self.company.cs_segment_mid_arr = 2000.0
        self.env["res.partner"]._cs_recompute_segments(self.company)
        other.invalidate_recordset()
        self.assertEqual(other.cs_segment, "smb")

    def test_contact_subscription_counts_for_company(self):
        contact = self.env["res.partner"].create({"name": "Almat", "parent_id": self.customer.id})
        sub = self._subscription(partner=contact, price=80.0)
        self.assertEqual(sub.commercial_partner_id, self.customer)
        self.assertAlmostEqual(self.customer.cs_mrr, 80.0)
        self.assertFalse(contact.cs_is_account)

    def test_a_plan_brings_the_seats_it_includes(self):
        pro = self._template("months", 1, name="Pro")
        pro.cs_seats = 20
        self.assertEqual(self._subscription(template=pro).seats, 20)
        self.assertEqual(self._subscription(template=pro, seats=3).seats, 3)
        self.assertEqual(self._subscription().seats, 0)  # a plan without seats
        # In the form: another plan brings its seats unless someone changed them.
        enterprise = self._template("months", 1, name="Enterprise")
        enterprise.cs_seats = 100
        form = Form(self._subscription(template=pro))
        form.template_id = enterprise
        self.assertEqual(form.seats, 100)
        form.seats = 120
        form.template_id = pro
        self.assertEqual(form.seats, 120)
