# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import json
from datetime import date
from datetime import datetime
from datetime import timedelta

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import HttpCase
from odoo.tests import TransactionCase
from odoo.tests import tagged

from ..services import usage as usage_service
from .common import CustomerSuccessMixin

URL = "/customer_success/api/v1/events"


@tagged("post_install", "-at_install", "customer_success")
class TestUsageValidation(TransactionCase):
    def test_items(self):
        now = datetime(2026, 11, 23, 12, 0)
        ok = {
            "customer_ref": "C-1",
            "type": "login",
            "timestamp": "2026-11-23T08:00:00Z",
            "value": 1,
            "user": "u1",
        }
        item, errors = usage_service.validate_item(ok, now)
        self.assertEqual(errors, [])
        self.assertEqual(item["timestamp"], datetime(2026, 11, 23, 8, 0))
        self.assertEqual(usage_service.validate_item({**ok, "timestamp": 1795420800}, now)[1], [])
        self.assertEqual(
            usage_service.validate_item({**ok, "timestamp": "2026-11-23T13:00:00+05:00"}, now)[0][
                "timestamp"
            ],
            datetime(2026, 11, 23, 8, 0),
        )
        cases = [
            ({"type": "login", "timestamp": "2026-11-23"}, "account: give one of"),
            ({**ok, "type": "dance"}, "type: 'dance' is not one of"),
            ({**ok, "timestamp": "tomorrow"}, "not an ISO 8601"),
            ({**ok, "timestamp": "2026-11-25T12:00:01Z"}, "more than a day in the future"),
            ({**ok, "timestamp": None}, "timestamp: is required"),
            ({**ok, "value": "ten"}, "value: must be a number"),
            ({**ok, "value": -3}, "value: cannot be negative"),
            ({**ok, "value": float("nan")}, "value: must be a number"),
            ({"partner_id": "7", "type": "login", "timestamp": 1}, "partner_id: must be"),
            ({**ok, "user": "x" * 200}, "user: longer than"),
            ("login", "must be a JSON object"),
            # What fuzzing sent before these were caught (they made server errors):
            ({**ok, "type": ["login"]}, "type: ['login'] is not one of"),
            (
                {**ok, "timestamp": 10**30},
                "timestamp: 1000000000000000000000000000000 is not a date",
            ),
            ({**ok, "timestamp": -(10**20)}, "is not a date"),
            ({**ok, "customer_ref": "C-\u0000"}, "customer_ref: control characters"),
            ({**ok, "user": "\ud83d"}, "user: control characters"),
            ({**ok, "partner_id": 10**30}, "partner_id: must be a positive integer"),
        ]
        for raw, message in cases:
            with self.subTest(raw=raw):
                item, errors = usage_service.validate_item(raw, now)
                self.assertIsNone(item)
                self.assertIn(message, " | ".join(errors))


@tagged("post_install", "-at_install", "customer_success")
class TestUsageApi(CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.customer.ref = "C-100"
        cls.sub = cls._subscription(external_subscription_ref="sub_api_1")
        cls.key_record = cls.env["cs.api.key"].create({"name": "Product"})
        action = cls.key_record.action_generate()
        cls.key = action["params"]["message"].split(" ")[0]
        cls.Daily = cls.env["cs.usage.daily"]
        cls.Event = cls.env["cs.usage.event"]

    def post(self, body, key=None, raw=None, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if key is not False:
            headers["Authorization"] = "Bearer %s" % (key or self.key)
        data = raw if raw is not None else json.dumps(body)
        return self.url_open(URL, data=data, headers=headers)

    def event(self, **values):
        return {
            "customer_ref": "C-100",
            "type": "login",
            "timestamp": datetime.utcnow().isoformat() + "Z",
            "value": 1,
            **values,
        }

    def test_key_is_stored_hashed_and_shown_once(self):
        self.assertTrue(self.key.startswith("cs_"))
        self.assertNotIn(self.key, str(self.key_record.sudo().read()[0]))
        self.assertEqual(self.env["cs.api.key"]._authenticate(self.key), self.key_record)

    def test_batch_with_aggregates(self):
        today = datetime.utcnow().date()
        events = [
            self.event(),
            self.event(user="u2"),
            self.event(type="key_action", value=5),
            self.event(type="active_users", value=12),
            self.event(type="active_users", value=9),
            self.event(
                subscription_ref="sub_api_1",
                customer_ref=None,
                type="feature_used",
                feature="reports",
            ),
            self.event(partner_id=self.customer.id, customer_ref=None, type="ticket_opened"),
        ]
        response = self.post({"events": events})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["accepted"], 7)
        daily = {
            d.metric: d
            for d in self.Daily.search(
                [("partner_id", "=", self.customer.id), ("date", "=", today)]
            )
        }
        self.assertEqual(daily["login"].value, 2)
        self.assertEqual(daily["key_action"].value, 5)
        self.assertEqual(daily["active_users"].value, 12)  # a gauge keeps the day's maximum
        self.assertEqual(daily["active_users"].event_count, 2)
        self.assertEqual(daily["feature_used"].value, 1)
        feature = self.Event.search([("event_type", "=", "feature_used")])
        self.assertEqual((feature.subscription_id, feature.feature), (self.sub, "reports"))
        self.assertEqual(self.key_record.event_count, 7)
        self.assertTrue(self.key_record.last_used_at)

    def test_valid_items_kept_when_others_fail(self):
        response = self.post(
            [
                self.event(id="evt-1"),
                self.event(type="unknown"),
                self.event(customer_ref="NOBODY"),
                self.event(timestamp=(datetime.utcnow() + timedelta(days=2)).isoformat()),
                self.event(id="evt-2", type="export_request"),
            ]
        )
        self.assertEqual(response.status_code, 422)
        body = response.json()
        self.assertEqual((body["accepted"], body["rejected"]), (2, 3))
        self.assertEqual([e["index"] for e in body["errors"]], [1, 2, 3])
        self.assertIn("no customer account matches", body["errors"][1]["errors"][0])
        # Re-sending the same client ids stores nothing twice.
        again = self.post([self.event(id="evt-1"), self.event(id="evt-2", type="export_request")])
        self.assertEqual(again.json()["accepted"], 0)
        self.assertEqual(again.json()["duplicates"], 2)
        self.assertEqual(self.Event.search_count([("external_id", "in", ("evt-1", "evt-2"))]), 2)

    def test_refused_requests(self):
        cases = [
            (self.post([self.event()], key=False), 401),
            (self.post([self.event()], key="cs_wrong"), 401),
            (self.post(None, raw="{not json"), 400),
            (self.post({"events": "login"}), 400),
            (self.post([self.event()], content_type="text/plain"), 415),
            (self.post([self.event()] * 1001), 413),
            (self.post(None, raw="[" + " " * (1024 * 1024) + "]"), 413),
        ]
        for response, status in cases:
            with self.subTest(status=status, body=response.text[:80]):
                self.assertEqual(response.status_code, status)
                self.assertIn("error", response.json())
        self.key_record.action_revoke()
        self.assertEqual(self.post([self.event()]).status_code, 401)
        self.assertFalse(self.Event.search([]))

    def test_other_company_accounts_are_unknown(self):
        company_b = self.env["res.company"].create({"name": "B"})
        other = self.env["cs.api.key"].create({"name": "B product", "company_id": company_b.id})
        key_b = other.action_generate()["params"]["message"].split(" ")[0]
        response = self.post([self.event()], key=key_b)
        self.assertEqual(response.status_code, 422)
        self.assertFalse(self.Event.search([]))


@tagged("post_install", "-at_install", "customer_success")
class TestUsageImportAndRetention(CustomerSuccessMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.customer.ref = "C-100"
        cls._subscription()

    def _import(self, text):
        wizard = (
            self.env["cs.usage.import"]
            .with_user(self.cs_user)
            .create({"file": base64.b64encode(text.encode()), "filename": "events.csv"})
        )
        wizard.action_import()
        return wizard

    def test_csv_with_line_errors(self):
        wizard = self._import(
            "customer_ref;type;timestamp;value;user\n"
            "C-100;login;2026-11-20T09:00:00Z;1;u1\n"
            "C-100;teleport;2026-11-20T09:00:00Z;1;u1\n"
            "C-999;login;2026-11-20T09:00:00Z;1;u1\n"
            "C-100;active_users;2026-11-20T10:00:00Z;14,0;\n"
        )
        self.assertEqual((wizard.accepted, wizard.rejected), (2, 2))
        self.assertIn("Line 3: type: 'teleport'", wizard.report)
        self.assertIn("Line 4: account", wizard.report)
        daily = self.env["cs.usage.daily"].search(
            [("partner_id", "=", self.customer.id), ("metric", "=", "active_users")]
        )
        self.assertEqual((daily.date, daily.value), (date(2026, 11, 20), 14.0))

    def test_odd_lines_are_reported_not_crashing(self):
        wizard = self._import(
            "customer_ref;type;timestamp;value;partner_id\n"
            "C-100;login;2026-11-20T09:00:00Z;1e400;\n"
            "C-100;login;\u00b2\u00b3;1;\n"
            "C-100;login;99999999999999999999;1;\n"
            "C-100;login;2026-11-20T09:00:00Z;1;1e400\n"
            "C-100;login;2026-11-20T09:00:00Z;1;;extra;columns\n"
        )
        self.assertEqual((wizard.accepted, wizard.rejected), (1, 4))
        self.assertIn("Line 2: value: must be a number", wizard.report)
        self.assertIn("Line 3: timestamp:", wizard.report)
        self.assertIn("Line 4: timestamp: 99999999999999999999 is not a date", wizard.report)
        self.assertIn("Line 5: partner_id: must be", wizard.report)
        try:
            wizard = self._import("customer_ref,type,timestamp\nC-1\u0000,login,2026-11-20\n")
        except UserError as exc:  # Python < 3.11: the csv module refuses NUL itself
            self.assertIn("Line 2 cannot be read", str(exc))
        else:
            self.assertIn("Line 2: customer_ref: control characters", wizard.report)

    def test_bad_files(self):
        with self.assertRaises(UserError):
            self._import("just,some,columns\n1,2,3\n")
        with self.assertRaises(UserError):
            self.env["cs.usage.import"].create(
                {"file": base64.b64encode(b"\xff\xfe\x00garbage")}
            ).action_import()

    def test_raw_events_purged_daily_kept(self):
        with freeze_time("2026-06-01"):
            self._import("customer_ref,type,timestamp\nC-100,login,2026-05-30T10:00:00Z\n")
        with freeze_time("2026-11-23"):
            self._import("customer_ref,type,timestamp\nC-100,login,2026-11-22T10:00:00Z\n")
            self.company.cs_raw_event_retention_days = 90
            self.env["cs.usage.event"]._cron_purge()
        events = self.env["cs.usage.event"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(events.mapped("date"), [date(2026, 11, 22)])
        daily = self.env["cs.usage.daily"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(daily), 2)
