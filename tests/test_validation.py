# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date

from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestValidation(CustomerSuccessCase):
    def test_negative_seats(self):
        sub = self._subscription()
        with self.assertRaises(ValidationError) as caught:
            sub.seats = -3
        self.assertRegex(str(caught.exception), "seats cannot be negative")
        with self.assertRaises(ValidationError) as caught:
            sub.usage_limit = -1
        self.assertRegex(str(caught.exception), "usage limit cannot be negative")

    def test_end_before_start(self):
        sub = self._subscription(date_start=date(2026, 5, 1))
        with self.assertRaises(ValidationError) as caught:
            sub.date = date(2026, 4, 1)
        self.assertRegex(str(caught.exception), "before it starts")

    def test_bad_lines(self):
        sub = self._subscription()
        line = sub.sale_subscription_line_ids
        with self.assertRaises(ValidationError) as caught:
            line.product_uom_qty = -1
        self.assertRegex(str(caught.exception), "quantity .* cannot be negative")
        with self.assertRaises(ValidationError) as caught:
            line.price_unit = -5
        self.assertRegex(str(caught.exception), "unit price")
        with self.assertRaises(ValidationError) as caught:
            line.discount = 120
        self.assertRegex(str(caught.exception), "between 0 and 100")

    def test_bad_template_and_settings(self):
        with self.assertRaises(ValidationError) as caught:
            self._template("months", 0)
        self.assertRegex(str(caught.exception), "1 or more")
        with self.assertRaises(ValidationError) as caught:
            self.company.cs_delinquent_churn_days = -1
        self.assertRegex(str(caught.exception), "cannot be negative")
        with self.assertRaises(ValidationError) as caught:
            self.company.write({"cs_segment_mid_team": 100, "cs_segment_enterprise_team": 50})
        self.assertRegex(str(caught.exception), "above the Mid-market")
        with self.assertRaises(ValidationError) as caught:
            self.customer.cs_team_size = -2
        self.assertRegex(str(caught.exception), "team size .* cannot be negative")

    def test_duplicate_external_ref(self):
        account = self.env["cs.billing.account"].create({"name": "Stripe", "provider": "stripe"})
        self._subscription(billing_account_id=account.id, external_subscription_ref="sub_1")
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self._subscription(billing_account_id=account.id, external_subscription_ref="sub_1")
