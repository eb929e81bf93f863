# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .res_company import in_office_language

SENTIMENTS = [("green", "Green"), ("yellow", "Yellow"), ("red", "Red")]
SENTIMENT_DAYS = 30
_BATCH = 10000


class ResPartnerSignals(models.Model):
    """CSM sentiment (C2) and the native Odoo signals of an account (C4)."""

    _inherit = "res.partner"

    cs_sentiment = fields.Selection(
        SENTIMENTS,
        string="CSM Sentiment",
        tracking=True,
        help="The CSM's own reading of the account; it expires so that it stays fresh.",
    )
    cs_sentiment_note = fields.Text(string="Sentiment Note")
    cs_sentiment_until = fields.Date(string="Sentiment Valid Until")
    cs_sentiment_user_id = fields.Many2one("res.users", string="Sentiment By", readonly=True)
    cs_sentiment_date = fields.Date(string="Sentiment Set On", readonly=True)
    cs_overdue_invoice_count = fields.Integer(string="Overdue Invoices", readonly=True)
    cs_overdue_amount = fields.Monetary(
        string="Overdue Amount", currency_field="cs_currency_id", readonly=True
    )
    cs_failed_payment_count = fields.Integer(
        string="Failed Payments",
        readonly=True,
        help="Running subscriptions whose last payment failed.",
    )
    cs_last_inbound_date = fields.Datetime(
        string="Customer Last Wrote",
        readonly=True,
        help="Last email or message from one of the customer's contacts.",
    )
    cs_days_silent = fields.Integer(string="Days of Silence", readonly=True)
    cs_overdue_activity_count = fields.Integer(string="Overdue Activities", readonly=True)
    cs_signals_date = fields.Date(string="Signals Refreshed On", readonly=True)

    @api.constrains("cs_sentiment_until")
    def _check_cs_sentiment_until(self):
        today = fields.Date.context_today(self)
        for partner in self:
            if (
                partner.cs_sentiment
                and partner.cs_sentiment_until
                and (partner.cs_sentiment_until < today)
            ):
                raise ValidationError(
                    self.env._(
                        "The sentiment of %(name)s must be valid until today or later.",
                        name=partner.display_name,
                    )
                )

    def write(self, vals):
        if vals.get("cs_sentiment"):
            today = fields.Date.context_today(self)
            vals = dict(vals)
            vals.setdefault("cs_sentiment_until", today + timedelta(days=SENTIMENT_DAYS))
            vals.update({"cs_sentiment_user_id": self.env.uid, "cs_sentiment_date": today})
        elif "cs_sentiment" in vals:
            vals = dict(vals, cs_sentiment_until=False, cs_sentiment_note=False)
        return super().write(vals)

    @api.model
    @in_office_language
    def _cron_refresh_signals(self, today=None):
        """Daily: expire sentiments, recompute native signals of every account, in batches."""
        today = today or fields.Date.context_today(self)
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner
                   SET cs_sentiment = NULL, cs_sentiment_note = NULL, cs_sentiment_until = NULL
                 WHERE cs_sentiment IS NOT NULL AND cs_sentiment_until < %(today)s
                """,
                today=today,
            )
        )
        self.env.cr.execute("SELECT id FROM res_partner WHERE cs_is_account ORDER BY id")
        ids = [row[0] for row in self.env.cr.fetchall()]
        for start in range(0, len(ids), _BATCH):
            self._cs_refresh_signals(ids[start : start + _BATCH], today=today)
        self.invalidate_model()

    @api.model
    def _cs_refresh_signals(self, partner_ids, today=None):
        """Overdue invoices, failed payments, silence and overdue activities: one statement."""
        if not partner_ids:
            return
        today = today or fields.Date.context_today(self)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH accounts AS (
                    SELECT unnest(%(ids)s::int[]) AS pid
                ), invoices AS (
                    SELECT m.commercial_partner_id AS pid, count(*) AS n,
                           sum(m.amount_residual_signed) AS amount
                      FROM account_move m
                     WHERE m.commercial_partner_id = ANY(%(ids)s)
                       AND m.move_type = 'out_invoice' AND m.state = 'posted'
                       AND m.payment_state IN ('not_paid', 'partial')
                       AND m.invoice_date_due < %(today)s
                  GROUP BY m.commercial_partner_id
                ), failed AS (
                    SELECT s.commercial_partner_id AS pid, count(*) AS n
                      FROM sale_subscription s
                      JOIN sale_subscription_stage st ON st.id = s.stage_id
                     WHERE s.commercial_partner_id = ANY(%(ids)s)
                       AND st.type = 'in_progress' AND s.payment_status = 'failed'
                  GROUP BY s.commercial_partner_id
                ), inbound AS (
                    SELECT author.commercial_partner_id AS pid, max(msg.date) AS last_date
                      FROM mail_message msg
                      JOIN res_partner author ON author.id = msg.author_id
                     WHERE author.commercial_partner_id = ANY(%(ids)s)
                       AND msg.message_type IN ('email', 'comment')
                       AND NOT EXISTS (SELECT 1 FROM res_users u
                                        WHERE u.partner_id = author.id AND NOT u.share)
                  GROUP BY author.commercial_partner_id
                ), activities AS (
                    SELECT COALESCE(s.commercial_partner_id, p.commercial_partner_id) AS pid,
                           count(*) AS n
                      FROM mail_activity a
                 LEFT JOIN sale_subscription s
                        ON a.res_model = 'sale.subscription' AND s.id = a.res_id
                 LEFT JOIN res_partner p ON a.res_model = 'res.partner' AND p.id = a.res_id
                     WHERE a.date_deadline < %(today)s
                       AND a.res_model IN ('sale.subscription', 'res.partner')
                       AND COALESCE(s.commercial_partner_id, p.commercial_partner_id)
                           = ANY(%(ids)s)
                  GROUP BY 1
                )
                UPDATE res_partner p
                   SET cs_overdue_invoice_count = COALESCE(i.n, 0),
                       cs_overdue_amount = COALESCE(i.amount, 0),
                       cs_failed_payment_count = COALESCE(f.n, 0),
                       cs_last_inbound_date = b.last_date,
                       cs_days_silent = CASE WHEN b.last_date IS NULL THEN NULL
                                             ELSE %(today)s::date - b.last_date::date END,
                       cs_overdue_activity_count = COALESCE(ac.n, 0),
                       cs_signals_date = %(today)s
                  FROM accounts a
             LEFT JOIN invoices i ON i.pid = a.pid
             LEFT JOIN failed f ON f.pid = a.pid
             LEFT JOIN inbound b ON b.pid = a.pid
             LEFT JOIN activities ac ON ac.pid = a.pid
                 WHERE p.id = a.pid
                """,
                ids=list(partner_ids),
                today=today,
            )
        )
        self.invalidate_model()

    def action_cs_refresh_signals(self):
        self._cs_refresh_signals(self.commercial_partner_id.ids)
        return True
