# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestSecurity(CustomerSuccessCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create(
            {"name": "Company B", "currency_id": cls.usd.id}
        )
        cls.pricelist_b = cls.env["product.pricelist"].create(
            {"name": "B USD", "currency_id": cls.usd.id, "company_id": cls.company_b.id}
        )
        cls.customer_b = cls.env["res.partner"].create(
            {"name": "Company B customer", "is_company": True, "company_id": cls.company_b.id}
        )
        with freeze_time("2026-03-10"):
            cls.sub_a = cls._subscription(price=100.0)
            cls.sub_b = (
                cls.env["sale.subscription"]
                .with_company(cls.company_b)
                .create(
                    {
                        "partner_id": cls.customer_b.id,
                        "company_id": cls.company_b.id,
                        "template_id": cls.monthly.id,
                        "pricelist_id": cls.pricelist_b.id,
                        "sale_subscription_line_ids": [
                            (
                                0,
                                0,
                                {
                                    "product_id": cls.product.id,
                                    "price_unit": 70.0,
                                },
                            )
                        ],
                    }
                )
            )
            cls.sub_b.stage_id = cls.stage_running
        cls.account = cls.env["cs.billing.account"].create({"name": "Stripe", "provider": "stripe"})

    def test_company_a_user_sees_nothing_of_company_b(self):
        self.assertEqual(self.sub_b.mrr, 70.0)
        self.assertTrue(
            self.env["cs.mrr.movement"].search([("company_id", "=", self.company_b.id)])
        )
        env = self.env(user=self.cs_user)
        accounts = env["res.partner"].search([("cs_is_account", "=", True)])
        self.assertIn(self.customer, accounts)
        self.assertNotIn(self.customer_b, accounts)
        self.assertNotIn(self.sub_b, env["sale.subscription"].search([]))
        self.assertFalse(env["cs.mrr.movement"].search([("company_id", "=", self.company_b.id)]))
        self.assertTrue(env["cs.mrr.movement"].search([("partner_id", "=", self.customer.id)]))
        with self.assertRaises(AccessError):
            self.sub_b.with_user(self.cs_user).read(["mrr"])

    def test_user_of_both_companies_sees_both(self):
        both = new_test_user(
            self.env,
            login="cs_both",
            groups="customer_success.group_cs_user",
            company_ids=[(6, 0, (self.company.id, self.company_b.id))],
        )
        env = self.env(
            user=both, context={"allowed_company_ids": [self.company.id, self.company_b.id]}
        )
        self.assertIn(self.sub_b, env["sale.subscription"].search([]))

    def test_cs_user_cannot_configure(self):
        account = self.account.with_user(self.cs_user)
        self.assertEqual(account.name, "Stripe")  # may read
        with self.assertRaises(AccessError):
            account.write({"name": "Hacked"})
        with self.assertRaises(AccessError):
            self.env["cs.billing.account"].with_user(self.cs_user).create(
                {"name": "Mine", "provider": "kaspi"}
            )
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.cs_user).create(
                {"cs_delinquent_churn_days": 5}
            )
        with self.assertRaises(AccessError):
            self.company.with_user(self.cs_user).write({"cs_delinquent_churn_days": 5})

    def test_movements_are_read_only_for_everyone(self):
        movement = self.env["cs.mrr.movement"].search([("partner_id", "=", self.customer.id)])
        for user in (self.cs_user, self.cs_manager):
            with self.assertRaises(AccessError):
                movement.with_user(user).write({"amount": 1.0})
            with self.assertRaises(AccessError):
                movement.with_user(user).unlink()

    def test_manager_configures_billing_accounts(self):
        account = (
            self.env["cs.billing.account"]
            .with_user(self.cs_manager)
            .create({"name": "Kaspi", "provider": "kaspi"})
        )
        account.write({"name": "Kaspi Pay"})
        self.assertEqual(account.company_id, self.company)

    def test_billing_account_of_another_company_is_refused(self):
        """A company's provider events never reach another company's subscription."""
        account_b = self.env["cs.billing.account"].create(
            {"name": "Stripe B", "provider": "stripe", "company_id": self.company_b.id}
        )
        with self.assertRaises(ValidationError):
            self.sub_a.billing_account_id = account_b
        self.sub_b.billing_account_id = account_b
        self.sub_a.billing_account_id = self.account
        self.assertEqual(self.sub_a.billing_account_id.company_id, self.sub_a.company_id)
        # Its payments are registered in a journal of its own company too.
        journal_b = self.env["account.journal"].create(
            {"name": "Bank B", "code": "BNKB", "type": "bank", "company_id": self.company_b.id}
        )
        with self.assertRaises(UserError):
            self.account.journal_id = journal_b
        account_b.journal_id = journal_b

    def test_cs_user_works_accounts(self):
        customer = self.customer.with_user(self.cs_user)
        customer.write({"csm_id": self.cs_user.id, "cs_team_size": 12})
        self.assertEqual(customer.csm_id, self.cs_user)
        sub = self.sub_a.with_user(self.cs_user)
        sub.write({"seats": 25, "renewal_type": "signature"})
        self.assertEqual(sub.seats, 25)

    def test_manager_assigns_csm_in_bulk(self):
        other = self.env["res.partner"].create({"name": "Altyn JSC", "is_company": True})
        self._subscription(partner=other, price=10.0)
        wizard = (
            self.env["cs.assign.csm"]
            .with_user(self.cs_manager)
            .with_context(active_model="res.partner", active_ids=[self.customer.id, other.id])
            .create({"csm_id": self.cs_user.id})
        )
        self.assertEqual(wizard.account_count, 2)
        wizard.action_assign()
        self.assertEqual((self.customer | other).csm_id, self.cs_user)
        with self.assertRaises(AccessError):
            self.env["cs.assign.csm"].with_user(self.cs_user).create({"csm_id": self.cs_user.id})
