# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import secrets
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError
from odoo.exceptions import ValidationError

ANSWER_DAYS = 30


class CsNpsSurvey(models.Model):
    """One NPS question sent to one contact of a customer (SPEC C3)."""

    _name = "cs.nps.survey"
    _description = "NPS Survey"
    _order = "sent_date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="cascade"
    )
    contact_id = fields.Many2one("res.partner", string="Sent To", required=True, ondelete="cascade")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    cs_segment = fields.Selection(related="partner_id.cs_segment", store=True, string="Segment")
    csm_id = fields.Many2one(related="partner_id.csm_id", store=True, string="CSM")
    access_token = fields.Char(
        required=True,
        copy=False,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(24),
    )
    sent_date = fields.Date(default=fields.Date.context_today, required=True, index=True)
    expires_on = fields.Date(compute="_compute_expires_on", store=True)
    state = fields.Selection(
        [("sent", "Sent"), ("answered", "Answered"), ("expired", "Expired")],
        default="sent",
        required=True,
        index=True,
    )
    score = fields.Integer(readonly=True)
    comment = fields.Text(readonly=True)
    answered_at = fields.Datetime(readonly=True)
    category = fields.Selection(
        [("promoter", "Promoter"), ("passive", "Passive"), ("detractor", "Detractor")],
        compute="_compute_category",
        store=True,
        index=True,
    )
    nps_points = fields.Float(
        string="NPS",
        compute="_compute_category",
        store=True,
        aggregator="avg",
        help="+100 for a promoter, 0 for a passive, -100 for a detractor: their average is "
        "the Net Promoter Score of any group of answers.",
    )

    _sql_constraints = [
        (
            "score_range",
            "CHECK(score IS NULL OR (score >= 0 AND score <= 10))",
            "An NPS score is between 0 and 10.",
        ),
    ]

    @api.depends("sent_date")
    def _compute_expires_on(self):
        for survey in self:
            survey.expires_on = survey.sent_date and survey.sent_date + timedelta(days=ANSWER_DAYS)

    @api.depends("state", "score")
    def _compute_category(self):
        for survey in self:
            if survey.state != "answered":
                survey.category = False
                survey.nps_points = 0.0
            elif survey.score >= 9:
                survey.category, survey.nps_points = "promoter", 100.0
            elif survey.score >= 7:
                survey.category, survey.nps_points = "passive", 0.0
            else:
                survey.category, survey.nps_points = "detractor", -100.0

    answer_url = fields.Char(
        compute="_compute_answer_url", compute_sudo=True, groups="customer_success.group_cs_user"
    )

    def _compute_answer_url(self):
        for survey in self:
            survey.answer_url = "%s/customer_success/nps/%d/%s" % (
                survey.get_base_url(),
                survey.id,
                survey.access_token,
            )

    def _record_answer(self, score, comment):
        """Store an answer from the public page; raises ValidationError on bad input."""
        self.ensure_one()
        if self.state == "answered":
            raise ValidationError(self.env._("This survey was already answered. Thank you!"))
        if self.state == "expired" or self.expires_on < fields.Date.context_today(self):
            raise ValidationError(self.env._("This survey has expired."))
        try:
            score = int(score)
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.env._("Choose a score from 0 to 10.")) from exc
        if not 0 <= score <= 10:
            raise ValidationError(self.env._("Choose a score from 0 to 10."))
        # Typed text only: control characters (NUL would not even reach the database)
        # come from scripts, not from people.
        comment = "".join(
            ch for ch in str(comment or "") if ch.isprintable() or ch in "\n\t"
        ).strip()[:2000]
        self.write(
            {
                "state": "answered",
                "score": score,
                "comment": comment or False,
                "answered_at": fields.Datetime.now(),
            }
        )
        partner = self.partner_id
        partner.write({"cs_nps_score": score, "cs_nps_date": fields.Date.context_today(self)})
        partner.message_post(
            body=self.env._(
                "NPS answer from %(contact)s: %(score)s/10. %(comment)s",
                contact=self.contact_id.name,
                score=score,
                comment=comment,
            ),
            subtype_xmlid="mail.mt_note",
        )

    @api.model
    def _cron_expire(self):
        self.search(
            [("state", "=", "sent"), ("expires_on", "<", fields.Date.context_today(self))]
        ).write({"state": "expired"})


class ResPartnerNps(models.Model):
    _inherit = "res.partner"

    cs_nps_score = fields.Integer(string="Last NPS", readonly=True)
    cs_nps_date = fields.Date(string="Last NPS On", readonly=True)
    cs_nps_survey_ids = fields.One2many("cs.nps.survey", "partner_id", string="NPS Surveys")

    def action_cs_send_nps(self):
        """Email the NPS question to the customer's main contact."""
        template = self.env.ref("customer_success.mail_template_nps")
        surveys = self.env["cs.nps.survey"]
        for partner in self:
            account = partner.commercial_partner_id
            contact = account if account.email else account.child_ids.filtered("email")[:1]
            if not contact:
                raise UserError(
                    self.env._(
                        "%(name)s has no contact with an email address.", name=account.display_name
                    )
                )
            survey = surveys.create(
                {
                    "partner_id": account.id,
                    "contact_id": contact.id,
                    "company_id": (account.company_id or self.env.company).id,
                }
            )
            template.send_mail(survey.id)
            surveys |= survey
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": self.env._("NPS survey sent."), "type": "success"},
        }
