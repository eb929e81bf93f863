# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import HttpCase
from odoo.tests import tagged

from .common import CustomerSuccessMixin


@tagged("post_install", "-at_install", "customer_success")
class TestNps(CustomerSuccessMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
        cls.customer.write({"email": "ceo@vostok.kz", "csm_id": cls.cs_user.id})
        cls._subscription()

    def send(self, partner=None):
        (partner or self.customer).with_user(self.cs_user).action_cs_send_nps()
        return self.env["cs.nps.survey"].search(
            [("partner_id", "=", (partner or self.customer).id)], order="id desc", limit=1
        )

    def answer(self, survey, token=None, **data):
        url = "/customer_success/nps/%d/%s" % (survey.id, token or survey.sudo().access_token)
        page = self.url_open(url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if csrf:  # the token belongs to the session: keep it for pages without a form
            self._csrf = csrf.group(1)
        data["csrf_token"] = getattr(self, "_csrf", "")
        return page, self.url_open(url, data=data)

    def test_survey_email_and_answer(self):
        survey = self.send()
        self.assertEqual((survey.contact_id, survey.state), (self.customer, "sent"))
        mail = self.env["mail.mail"].search(
            [("model", "=", "cs.nps.survey"), ("res_id", "=", survey.id)]
        )
        self.assertIn(survey.sudo().answer_url, mail.body_html)
        page, answered = self.answer(survey, score="9", comment="Great onboarding")
        self.assertEqual(page.status_code, 200)
        self.assertIn("recommend", page.text)
        self.assertEqual(answered.status_code, 200)
        self.assertIn("Thank you", answered.text)
        self.assertEqual((survey.state, survey.score, survey.category), ("answered", 9, "promoter"))
        self.assertEqual(survey.comment, "Great onboarding")
        self.assertEqual(self.customer.cs_nps_score, 9)
        # A second answer is refused (with a valid CSRF token: the survey says why).
        _page, again = self.answer(survey, score="2")
        self.assertEqual(again.status_code, 400)
        self.assertIn("already answered", again.text)
        self.assertEqual(survey.score, 9)

    def test_token_misuse(self):
        survey = self.send()
        wrong = self.url_open("/customer_success/nps/%d/not-the-token" % survey.id)
        self.assertEqual(wrong.status_code, 404)
        missing = self.url_open("/customer_success/nps/999999/%s" % survey.sudo().access_token)
        self.assertEqual(missing.status_code, 404)
        other = self.send()
        borrowed = self.url_open(
            "/customer_success/nps/%d/%s" % (other.id, survey.sudo().access_token)
        )
        self.assertEqual(borrowed.status_code, 404)
        self.assertEqual(survey.state, "sent")

    def test_bad_scores(self):
        survey = self.send()
        for score in ("11", "-1", "ten", "", "1e5", "\u0000"):
            with self.subTest(score=score):
                _page, response = self.answer(survey, score=score)
                self.assertEqual(response.status_code, 400)
        self.assertEqual(survey.state, "sent")
        # A scripted comment with control characters is kept as the text it carries.
        _page, response = self.answer(survey, score="7", comment="Fine\u0000\x1b[2J\nthanks")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(survey.comment, "Fine[2J\nthanks")

    def test_nps_per_segment(self):
        Survey = self.env["cs.nps.survey"]
        for score in (10, 9, 8, 3):
            Survey.create(
                {"partner_id": self.customer.id, "contact_id": self.customer.id}
            )._record_answer(score, "")
        groups = Survey.read_group([("state", "=", "answered")], ["nps_points:avg"], ["cs_segment"])
        # 2 promoters, 1 passive, 1 detractor of 4: NPS = (2 - 1) / 4 = 25
        self.assertAlmostEqual(groups[0]["nps_points"], 25.0)

    def test_expiry_and_missing_email(self):
        with freeze_time("2026-01-01"):
            survey = self.send()
        with freeze_time("2026-02-15"):
            self.env["cs.nps.survey"]._cron_expire()
            self.assertEqual(survey.state, "expired")
            self.assertEqual(survey.expires_on, date(2026, 1, 31))
        nobody = self.env["res.partner"].create({"name": "No Mail LLP", "is_company": True})
        with self.assertRaises(UserError):
            nobody.with_user(self.cs_user).action_cs_send_nps()
