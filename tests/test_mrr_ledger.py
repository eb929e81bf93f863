# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestMrrLedger(CustomerSuccessCase):
    """Every case of SPEC B6, classified per customer."""

    def assertMovements(self, expected, partner=None):
        got = [(m.movement_type, round(m.amount, 2)) for m in self.movements(partner)]
        self.assertEqual(got, expected)

    @freeze_time("2026-03-10")
    def test_new_expansion_contraction_churn_reactivation(self):
        first = self._subscription(price=100.0)
        self.assertMovements([("new", 100.0)])
        # A second subscription of a paying customer is expansion, not new.
        second = self._subscription(price=40.0)
        self.assertMovements([("new", 100.0), ("expansion", 40.0)])
        # Price up: expansion; quantity down: contraction.
        first.sale_subscription_line_ids.price_unit = 120.0
        first.sale_subscription_line_ids.product_uom_qty = 0.5
        self.assertMovements(
            [("new", 100.0), ("expansion", 40.0), ("expansion", 20.0), ("contraction", -60.0)]
        )
        # Closing one of two: contraction. Closing the last one: churn.
        second.close_subscription()
        first.close_subscription()
        self.assertMovements(
            [
                ("new", 100.0),
                ("expansion", 40.0),
                ("expansion", 20.0),
                ("contraction", -60.0),
                ("contraction", -40.0),
                ("churn", -60.0),
            ]
        )
        churn = self.movements()[-1]
        self.assertEqual(churn.churn_kind, "voluntary")
        self.assertEqual(churn.mrr_after, 0.0)
        # Coming back is reactivation, not new.
        self._subscription(price=90.0)
        self.assertEqual(self.movements()[-1].movement_type, "reactivation")
        self.assertAlmostEqual(sum(self.movements().mapped("amount")), self.customer.cs_mrr)

    @freeze_time("2026-03-10")
    def test_reopen_after_close_is_reactivation(self):
        sub = self._subscription(price=100.0)
        sub.close_subscription()
        sub.action_start_subscription()
        self.assertMovements([("new", 100.0), ("churn", -100.0), ("reactivation", 100.0)])
        self.assertEqual(self.customer.cs_mrr, 100.0)

    @freeze_time("2026-03-10")
    def test_discount_ending_is_expansion(self):
        sub = self._subscription(price=100.0, discount=20.0)
        self.assertMovements([("new", 80.0)])
        sub.sale_subscription_line_ids.discount = 0.0
        self.assertMovements([("new", 80.0), ("expansion", 20.0)])

    @freeze_time("2026-03-10")
    def test_trial_is_not_mrr_until_it_converts(self):
        sub = self._subscription(price=100.0, cs_is_trial=True, cs_trial_end_date=date(2026, 3, 20))
        self.assertFalse(self.movements())
        self.env["sale.subscription"]._cron_customer_success_daily(today=date(2026, 3, 21))
        self.assertFalse(sub.cs_is_trial)
        self.assertMovements([("new", 100.0)])
        self.assertEqual(self.movements().source, "trial_end")

    @freeze_time("2026-03-10")
    def test_fx_drift_is_never_a_movement(self):
        sub = self._subscription(price=50000.0, currency=self.kzt)
        self.assertMovements([("new", 100.0)])
        self.assertEqual(self.movements().amount_currency, 50000.0)
        with freeze_time("2026-07-01"):
            self.env["sale.subscription"]._cron_customer_success_daily()
            self.assertAlmostEqual(sub.mrr_company, 125.0)
        self.assertEqual(len(self.movements()), 1)

    def test_movement_converted_at_rate_of_its_date(self):
        with freeze_time("2026-03-10"):
            sub = self._subscription(price=50000.0, currency=self.kzt)
        with freeze_time("2026-07-10"):
            sub.sale_subscription_line_ids.price_unit = 60000.0
        expansion = self.movements()[-1]
        self.assertEqual(expansion.movement_type, "expansion")
        self.assertEqual(expansion.amount_currency, 10000.0)
        self.assertAlmostEqual(expansion.amount, 25.0)  # 10000 KZT at 400
        self.assertEqual(expansion.date, date(2026, 7, 10))

    @freeze_time("2026-03-10")
    def test_interval_change_moves_mrr(self):
        template = self._template("months", 1, name="Flexible")
        self._subscription(template=template, price=300.0)
        template.recurring_interval = 3
        self.assertMovements([("new", 300.0), ("contraction", -200.0)])

    @freeze_time("2026-03-10")
    def test_churn_at_end_of_paid_period(self):
        self.company.cs_churn_timing = "period_end"
        sub = self._subscription(price=100.0, recurring_next_date=date(2026, 4, 1))
        sub.recurring_next_date = date(2026, 4, 1)
        sub.close_subscription()
        churn = self.movements()[-1]
        self.assertEqual(churn.movement_type, "churn")
        self.assertEqual(churn.date, date(2026, 4, 1))

    @freeze_time("2026-03-10")
    def test_explicit_date_and_source_from_context(self):
        sub = self._subscription(price=100.0)
        sub.with_context(cs_movement_date="2026-02-28", cs_movement_source="stripe").write(
            {"cs_is_trial": True}
        )
        churn = self.movements()[-1]
        self.assertEqual(
            (churn.movement_type, churn.date.isoformat(), churn.source),
            ("churn", "2026-02-28", "stripe"),
        )

    @freeze_time("2026-03-10")
    def test_idempotent_sync(self):
        sub = self._subscription(price=100.0)
        sub._cs_sync_ledger()
        sub.write({"seats": 10, "renewal_type": "signature"})
        self.assertEqual(len(self.movements()), 1)

    @freeze_time("2026-03-10")
    def test_ledger_mrr_reaches_the_database(self):
        """The MRR last written to the ledger is kept in the cache until the row's flush:
        it must reach the table, where the next transaction reads it from."""
        sub = self._subscription(price=100.0)
        sub.sale_subscription_line_ids.price_unit = 130.0
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT cs_ledger_mrr, mrr FROM sale_subscription WHERE id = %s", [sub.id]
        )
        self.assertEqual(self.env.cr.fetchone(), (130.0, 130.0))
        self.env.invalidate_all()
        sub.sale_subscription_line_ids.price_unit = 130.0  # nothing moved: no movement
        self.assertMovements([("new", 100.0), ("expansion", 30.0)])

    @freeze_time("2026-03-10")
    def test_customers_are_separate(self):
        other = self.env["res.partner"].create({"name": "Altyn JSC", "is_company": True})
        self._subscription(price=100.0)
        self._subscription(partner=other, price=30.0)
        self.assertMovements([("new", 100.0)])
        self.assertMovements([("new", 30.0)], partner=other)

    @freeze_time("2026-03-10")
    def test_revenue_cannot_move_to_another_customer(self):
        sub = self._subscription(price=100.0)
        other = self.env["res.partner"].create({"name": "Altyn JSC", "is_company": True})
        with self.assertRaisesRegex(ValidationError, "already carries revenue"):
            sub.partner_id = other

    @freeze_time("2026-05-20")
    def test_delinquent_churn(self):
        self.company.cs_delinquent_churn_days = 30
        sub = self._subscription(price=100.0)
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "subscription_id": sub.id,
                "invoice_date": date(2026, 4, 1),
                "invoice_date_due": date(2026, 4, 10),
                "invoice_line_ids": [(0, 0, {"name": "Pro", "quantity": 1, "price_unit": 100.0})],
            }
        )
        invoice.action_post()
        self.assertEqual(sub.payment_status, "overdue")
        self.assertEqual(sub.amount_due, 100.0)
        self.env["sale.subscription"]._cron_customer_success_daily()
        self.assertTrue(sub.cs_delinquent)
        churn = self.movements()[-1]
        self.assertEqual((churn.movement_type, churn.churn_kind), ("churn", "delinquent"))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertEqual(sub.payment_status, "paid")
        self.env["sale.subscription"]._cron_customer_success_daily()
        self.assertFalse(sub.cs_delinquent)
        self.assertEqual(self.movements()[-1].movement_type, "reactivation")
