# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import BaseCase
from odoo.tests import tagged

from ..services import mrr
from ..services import segment


@tagged("post_install", "-at_install", "customer_success")
class TestMrrService(BaseCase):
    """Pure functions, table-driven."""

    def test_months_in_period(self):
        cases = [
            ("days", 1, 1 / 30.4375),
            ("days", 30, 30 / 30.4375),
            ("days", 365, 365 / 30.4375),
            ("weeks", 1, 7 / 30.4375),
            ("weeks", 2, 14 / 30.4375),
            ("weeks", 52, 364 / 30.4375),
            ("months", 1, 1.0),
            ("months", 3, 3.0),
            ("months", 6, 6.0),
            ("months", 18, 18.0),
            ("years", 1, 12.0),
            ("years", 2, 24.0),
            ("years", 3, 36.0),
        ]
        for rule, interval, expected in cases:
            with self.subTest(rule=rule, interval=interval):
                self.assertAlmostEqual(mrr.months_in_period(rule, interval), expected, places=9)

    def test_months_in_period_rejects_bad_input(self):
        for rule, interval in [("months", 0), ("months", -1), ("decades", 1), (None, 1)]:
            with self.subTest(rule=rule, interval=interval), self.assertRaises(ValueError):
                mrr.months_in_period(rule, interval)

    def test_monthly_amount(self):
        cases = [
            (1200.0, "years", 1, 100.0),
            (300.0, "months", 3, 100.0),
            (100.0, "months", 1, 100.0),
            (2400.0, "years", 2, 100.0),
            (0.0, "months", 1, 0.0),
            (70.0, "weeks", 1, 70.0 * 30.4375 / 7),
            (10.0, "days", 1, 304.375),
        ]
        for amount, rule, interval, expected in cases:
            with self.subTest(amount=amount, rule=rule, interval=interval):
                self.assertAlmostEqual(mrr.monthly_amount(amount, rule, interval), expected)

    def test_classify(self):
        cases = [
            # before, after, paid before -> type
            (0, 100, False, "new"),
            (0, 100, True, "reactivation"),
            (100, 150, True, "expansion"),
            (100, 60, True, "contraction"),
            (100, 0, True, "churn"),
            (0, 0, False, None),
            (0, 0, True, None),
            (100, 100, True, None),
            (100, 100.0000000001, True, None),
        ]
        for before, after, paid, expected in cases:
            with self.subTest(before=before, after=after, paid=paid):
                self.assertEqual(mrr.classify(before, after, paid), expected)

    def test_segment_thresholds(self):
        thresholds = {
            "mid_arr": 10000,
            "enterprise_arr": 100000,
            "mid_team": 50,
            "enterprise_team": 250,
        }
        cases = [
            (0, 0, "smb"),
            (9999, 49, "smb"),
            (10000, 0, "mid_market"),
            (0, 50, "mid_market"),
            (100000, 0, "enterprise"),
            (500, 300, "enterprise"),
        ]
        for arr, team, expected in cases:
            with self.subTest(arr=arr, team=team):
                self.assertEqual(segment.segment_for(arr, team, **thresholds), expected)
        # Disabled thresholds (0) never match.
        self.assertEqual(segment.segment_for(10**9, 10**6, 0, 0, 0, 0), "smb")
