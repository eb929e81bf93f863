# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date
from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools.convert import convert_file

from ..services import health
from .common import CustomerSuccessCase

TODAY = date(2026, 11, 20)


@tagged("post_install", "-at_install", "customer_success")
class TestHealthService(TransactionCase):
    def test_rules(self):
        rules = [(None, 10, 0), (10, 30, 50), (30, None, 100)]
        cases = [(-5, 0), (0, 0), (9.99, 0), (10, 50), (29, 50), (30, 100), (1000, 100)]
        for value, points in cases:
            with self.subTest(value=value):
                self.assertEqual(health.points_for(value, rules), points)
        self.assertIsNone(health.points_for(5, [(10, 20, 50)]))
        self.assertFalse(health.overlapping(rules))
        self.assertTrue(health.overlapping([(None, 10, 0), (5, None, 100)]))

    def test_score_zones_and_missing_metrics(self):
        measures = [
            {"code": 1, "metric": "a", "weight": 60, "rules": [(None, None, 100)]},
            {"code": 2, "metric": "b", "weight": 40, "rules": [(None, None, 0)]},
        ]
        score, zone, rows = health.score(measures, {"a": 1, "b": 1})
        self.assertEqual((score, zone), (60.0, "yellow"))
        self.assertEqual([r["contribution"] for r in rows], [60.0, 0.0])
        # b unknown: a alone carries the whole weight.
        self.assertEqual(health.score(measures, {"a": 1, "b": None})[:2], (100.0, "green"))
        self.assertEqual(health.score(measures, {})[:2], (None, None))
        self.assertEqual(health.zone_for(39.9, 70, 40), "red")
        cases = [
            ("green", None, "low"),
            ("green", -12, "medium"),
            ("yellow", 0, "medium"),
            ("yellow", -10, "high"),
            ("red", 5, "high"),
        ]
        for zone, trend, risk in cases:
            with self.subTest(zone=zone, trend=trend):
                self.assertEqual(health.churn_risk(zone, trend), risk)


@tagged("post_install", "-at_install", "customer_success")
class TestHealthScoring(CustomerSuccessCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.ref = "C-1"
        cls.sub = cls._subscription(seats=10)
        cls.Model = cls.env["cs.health.model"]
        cls.model = cls.env.ref("customer_success.cs_health_model_seed000")
        cls.Model.search([("id", "!=", cls.model.id)]).active = False

    def ingest(self, rows):
        items = [
            {"customer_ref": "C-1", "type": t, "timestamp": ts, "value": v} for t, ts, v in rows
        ]
        accepted, _dup, errors = self.env["cs.usage.event"]._ingest(
            self.company, items, now=datetime(2026, 11, 20, 12)
        )
        self.assertFalse(errors)
        return accepted

    def test_shipped_models_are_valid(self):
        models = self.Model.with_context(active_test=False).search([])
        self.assertGreaterEqual(len(models), 3)
        for model in models:
            self.assertAlmostEqual(sum(model.measure_ids.mapped("weight")), 100.0)
        self.assertTrue(self.model.active)

    def test_the_shipped_models_survive_a_second_initialisation(self):
        """``odoo -i customer_success`` over an installed database loads the data files
        again in init mode: the seed models keep their measures, not twice as many."""
        models = self.Model.with_context(active_test=False).search([])
        before = {model: model.measure_ids.mapped("name") for model in models}
        convert_file(
            self.env, "customer_success", "data/cs_health_data.xml", {}, mode="init", noupdate=True
        )
        for model, names in before.items():
            self.assertEqual(model.measure_ids.mapped("name"), names)
            self.assertAlmostEqual(sum(model.measure_ids.mapped("weight")), 100.0)

    def test_invalid_models(self):
        with self.assertRaises(ValidationError):
            self.Model.create(
                {
                    "name": "Bad weights",
                    "measure_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "A",
                                "metric": "nps",
                                "weight": 50,
                                "rule_ids": [(0, 0, {"points": 100, "has_min": False})],
                            },
                        )
                    ],
                }
            )
        with self.assertRaises(ValidationError):
            self.Model.create(
                {
                    "name": "Overlap",
                    "measure_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "A",
                                "metric": "nps",
                                "weight": 100,
                                "rule_ids": [
                                    (
                                        0,
                                        0,
                                        {
                                            "has_min": False,
                                            "has_max": True,
                                            "max_value": 8,
                                            "points": 0,
                                        },
                                    ),
                                    (0, 0, {"min_value": 5, "points": 100}),
                                ],
                            },
                        )
                    ],
                }
            )
        with self.assertRaises(ValidationError):
            self.Model.create({"name": "Zones", "green_min": 30, "yellow_min": 50})
        version = self.model.version
        self.model.green_min = 75
        self.assertEqual(self.model.version, version + 1)

    def test_daily_score_with_explanation(self):
        self.ingest(
            [
                ("login", "2026-11-18T10:00:00Z", 40),
                ("active_users", "2026-11-18", 9),
                ("ticket_opened", "2026-11-10", 2),
                ("ticket_closed", "2026-11-11", 1),
            ]
        )
        self.customer.write({"cs_nps_score": 10, "cs_nps_date": date(2026, 10, 1)})
        self.Model._cron_compute_health(today=TODAY)
        self.Model._cron_compute_health(today=TODAY)  # idempotent: one snapshot a day
        snapshots = self.env["cs.health.snapshot"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(snapshots), 1)
        # logins 40 -> 80 x 30 %, seats 90 % -> 100 x 25 %, NPS 10 -> 100 x 20 %,
        # no overdue -> 100 x 15 %, 1 open ticket -> 70 x 10 %  = 24 + 25 + 20 + 15 + 7
        self.assertEqual(snapshots.score, 91.0)
        self.assertEqual((self.customer.health_score, self.customer.health_zone), (91.0, "green"))
        self.assertEqual(self.customer.churn_risk, "low")
        self.assertEqual(snapshots.model_version, self.model.version)
        with freeze_time("2026-11-21"):
            self.assertEqual(self.model.coverage, 100.0)
        breakdown = self.customer.cs_health_breakdown
        self.assertIn("Product activity", breakdown)
        self.assertIn("Adoption (seats used)", breakdown)

    def test_export_request_forces_red_and_trend_alerts(self):
        self.env["cs.health.snapshot"].create(
            {
                "partner_id": self.customer.id,
                "date": date(2026, 10, 20),
                "score": 95.0,
                "zone": "green",
            }
        )
        self.ingest([("login", "2026-11-18", 40), ("export_request", "2026-11-19", 1)])
        self.Model._cron_compute_health(today=TODAY)
        snapshot = self.env["cs.health.snapshot"].search(
            [("partner_id", "=", self.customer.id), ("date", "=", TODAY)]
        )
        self.assertEqual(snapshot.zone, "red")
        self.assertIn("Data export", snapshot.forced_reason)
        self.assertLessEqual(self.customer.cs_health_trend_30, -10)
        self.assertTrue(self.customer.cs_health_falling)
        self.assertEqual(self.customer.churn_risk, "high")

    def test_cancellation_notice_forces_red(self):
        self.ingest([("login", "2026-11-18", 100), ("active_users", "2026-11-18", 10)])
        self.sub.cs_cancel_scheduled = True
        self.Model._cron_compute_health(today=TODAY)
        snapshot = self.env["cs.health.snapshot"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual((snapshot.zone, snapshot.forced_reason), ("red", "Cancellation scheduled"))
        self.assertIn("vs 30 days", self.customer.cs_health_breakdown)

    @freeze_time("2026-11-20")
    def test_history_chart_on_the_card(self):
        Snapshot = self.env["cs.health.snapshot"]
        self.assertFalse(self.customer.cs_health_chart)
        for day, score, zone in ((1, 82.0, "green"), (10, 55.0, "yellow"), (19, 31.5, "red")):
            Snapshot.create(
                {"partner_id": self.customer.id, "date": date(2026, 11, day), "score": score,
                 "zone": zone}
            )  # fmt: skip
        self.customer.invalidate_recordset(["cs_health_chart"])
        chart = str(self.customer.cs_health_chart)
        self.assertIn("<svg", chart)
        self.assertEqual(chart.count("<circle"), 3)
        self.assertIn("31.5", chart)  # each point's tooltip
        self.assertIn(">70<", chart)  # the model's zone thresholds on the axis
        self.assertIn(">40<", chart)
        # Older than 90 days: off the chart.
        Snapshot.create({"partner_id": self.customer.id, "date": date(2026, 6, 1), "score": 90})
        self.customer.invalidate_recordset(["cs_health_chart"])
        self.assertEqual(str(self.customer.cs_health_chart).count("<circle"), 3)

    def test_nightly_run_resumes_after_being_killed(self):
        other = self.env["res.partner"].create({"name": "Second LLP", "is_company": True})
        self._subscription(partner=other, seats=5)
        accounts = self.env["res.partner"].search([("cs_is_account", "=", True)])
        self.assertGreaterEqual(len(accounts), 2)
        original = type(self.Model)._score_rows
        batches = []

        def killed_after_one_batch(model, rows, today):
            if batches:
                raise RuntimeError("killed")
            batches.append([row[0] for row in rows])
            return original(model, rows, today)

        # Not assertRaises: Odoo's rolls the savepoint back, a killed run keeps its
        # committed batches.
        Snapshot = self.env["cs.health.snapshot"]
        earlier = Snapshot.search([("date", "=", TODAY)])  # a database's own, if any
        killed = False
        with patch.object(type(self.Model), "_score_rows", killed_after_one_batch):
            try:
                self.Model._cron_compute_health(today=TODAY, batch=1)
            except RuntimeError:
                killed = True
        self.assertTrue(killed)
        first = Snapshot.search([("date", "=", TODAY)]) - earlier
        self.assertEqual(first.partner_id.ids, batches[0])
        # The next run scores only the accounts still without today's snapshot.
        rescored = []

        def recording(model, rows, today):
            rescored.extend(row[0] for row in rows)
            return original(model, rows, today)

        with patch.object(type(self.Model), "_score_rows", recording):
            self.Model._cron_compute_health(today=TODAY, batch=1)
        self.assertNotIn(batches[0][0], rescored)
        scored_before = set(earlier.partner_id.ids)
        self.assertEqual(sorted(rescored + batches[0]), sorted(set(accounts.ids) - scored_before))
        today_snapshots = Snapshot.search([("date", "=", TODAY)])
        self.assertEqual(set(today_snapshots.partner_id.ids), set(accounts.ids) | scored_before)
        self.assertEqual(len(today_snapshots), len(set(accounts.ids) | scored_before))

    def test_locked_override_survives_the_nightly_run(self):
        customer = self.customer.with_user(self.cs_user)
        with self.assertRaises(ValidationError):
            customer.write({"cs_health_override": 30, "cs_health_locked": True})
        customer.write(
            {
                "cs_health_override": 30,
                "cs_health_locked": True,
                # Tab, line break and backslash: the nightly run stores them as typed.
                "cs_health_override_reason": "Champion left,\tbudget frozen\nC:\\plans",
                "cs_health_override_until": date(2026, 12, 31),
            }
        )
        self.assertEqual((self.customer.health_score, self.customer.health_zone), (30, "red"))
        self.ingest([("login", "2026-11-18", 100)])
        self.Model._cron_compute_health(today=TODAY)
        self.assertEqual(self.customer.health_score, 30)
        snapshot = self.env["cs.health.snapshot"].search([("partner_id", "=", self.customer.id)])
        self.assertIn("Locked by", snapshot.forced_reason)
        self.assertIn("Champion left,\tbudget frozen\nC:\\plans", snapshot.forced_reason)


@tagged("post_install", "-at_install", "customer_success")
class TestHealthBacktest(CustomerSuccessCase):
    def test_backtest_on_a_crafted_history(self):
        Model = self.env["cs.health.model"]
        model = self.env.ref("customer_success.cs_health_model_seed000")
        Daily, Movement = self.env["cs.usage.daily"], self.env["cs.mrr.movement"]
        # Only this history: a database with a book of its own (the demo's) churns
        # customers too. Undone with the test's transaction.
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM cs_mrr_movement")
        Movement.invalidate_model()
        quiet = self.env["res.partner"].create({"name": "Quiet LLP", "is_company": True})
        busy = self.env["res.partner"].create({"name": "Busy LLP", "is_company": True})
        for partner in (quiet, busy):
            Movement.create(
                {
                    "partner_id": partner.id,
                    "date": date(2026, 10, 15),
                    "movement_type": "churn",
                    "amount": -100,
                    "amount_currency": -100,
                    "currency_id": self.usd.id,
                    "mrr_before": 100,
                    "mrr_after": 0,
                }
            )
        # 30 days before churning: Quiet barely logged in, Busy used the product a lot.
        Daily.create(
            [
                {
                    "partner_id": quiet.id,
                    "company_id": self.company.id,
                    "date": date(2026, 9, 1),
                    "metric": "login",
                    "value": 1,
                    "event_count": 1,
                },
                {
                    "partner_id": busy.id,
                    "company_id": self.company.id,
                    "date": date(2026, 9, 1),
                    "metric": "login",
                    "value": 80,
                    "event_count": 1,
                },
            ]
        )
        model.action_backtest(today=TODAY)
        self.assertEqual(model.backtest_churned, 2)
        self.assertEqual(model.backtest_detected, 50.0)  # Quiet was yellow, Busy green
        pessimist = model.copy({"name": "Pessimist", "active": False})
        pessimist.measure_ids.rule_ids.points = 0
        pessimist.action_backtest(today=TODAY)
        self.assertEqual(pessimist.backtest_detected, 100.0)
        self.assertTrue(Model.browse(pessimist.id).backtest_date)
        # A model is tried on the customers it scores: an Enterprise model on
        # Enterprise customers only, the default one on the others.
        enterprise = model.copy({"name": "Enterprise", "segment": "enterprise"})
        enterprise.action_backtest(today=TODAY)
        self.assertEqual(enterprise.backtest_churned, 0)
        busy.cs_segment = "enterprise"
        (model | enterprise).action_backtest(today=TODAY)
        self.assertEqual((enterprise.backtest_churned, enterprise.backtest_detected), (1, 0.0))
        self.assertEqual((model.backtest_churned, model.backtest_detected), (1, 100.0))
