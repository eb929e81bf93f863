# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import threading
from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import health as health_service

METRICS = [
    ("logins_30d", "Logins, last 30 days"),
    ("activity_change", "Key actions, change vs previous 30 days (%)"),
    ("seat_utilization", "Active users / seats (%)"),
    ("open_tickets", "Open support tickets"),
    ("critical_tickets_30d", "Critical tickets, last 30 days"),
    ("nps", "Last NPS score (0-10)"),
    ("overdue_days", "Days the oldest invoice is overdue"),
    ("days_silent", "Days since the customer last wrote"),
    ("sentiment", "CSM sentiment (green 100, yellow 50, red 0)"),
]
CATEGORIES = [
    ("product", "Product"),
    ("financial", "Financial"),
    ("communication", "Communication"),
]
ZONES = [("green", "Green"), ("yellow", "Yellow"), ("red", "Red")]
_BATCH = 2000


class CsHealthModel(models.Model):
    """A health model as data (SPEC D1): measures, rules, zones, per segment."""

    _name = "cs.health.model"
    _description = "Health Model"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    segment = fields.Selection(
        [("smb", "SMB"), ("mid_market", "Mid-market"), ("enterprise", "Enterprise")],
        help="Customers of this segment use this model; empty: every segment without its own.",
    )
    version = fields.Integer(
        default=1, readonly=True, help="Goes up when measures, rules or zones change."
    )
    green_min = fields.Float(string="Green from", default=70.0)
    yellow_min = fields.Float(string="Yellow from", default=40.0)
    critical_export = fields.Boolean(
        string="Data export request forces red",
        default=True,
        help="A data-export request in the last 30 days is a strong churn signal.",
    )
    critical_cancel = fields.Boolean(
        string="Cancellation notice forces red",
        default=True,
        help="A subscription whose cancellation is scheduled at the end of the period.",
    )
    critical_overdue_days = fields.Integer(
        string="Overdue days forcing red",
        default=45,
        help="An invoice overdue this many days forces red. 0 disables.",
    )
    measure_ids = fields.One2many("cs.health.measure", "model_id", string="Measures", copy=True)
    note = fields.Text(translate=True)

    @api.constrains("measure_ids", "green_min", "yellow_min")
    def _check_model(self):
        for model in self:
            total = sum(model.measure_ids.mapped("weight"))
            if model.measure_ids and abs(total - 100.0) > 0.01:
                raise ValidationError(
                    self.env._(
                        "Health model %(name)s: the weights add up to %(total)s %%, not 100 %%.",
                        name=model.name,
                        total=round(total, 2),
                    )
                )
            if not 0 <= model.yellow_min < model.green_min <= 100:
                raise ValidationError(
                    self.env._(
                        "Health model %(name)s: zones need 0 ≤ yellow < green ≤ 100.",
                        name=model.name,
                    )
                )

    def write(self, vals):
        if {
            "measure_ids",
            "green_min",
            "yellow_min",
            "critical_export",
            "critical_cancel",
            "critical_overdue_days",
        }.intersection(vals):
            for model in self:
                vals_one = dict(vals, version=model.version + 1)
                super(CsHealthModel, model).write(vals_one)
            return True
        return super().write(vals)

    def _definition(self):
        self.ensure_one()
        return [
            {
                "code": m.id,
                "name": m.name,
                "metric": m.metric,
                "weight": m.weight,
                "rules": m._rule_tuples(),
            }
            for m in self.measure_ids
        ]

    @api.model
    def _for_segment(self, segment):
        models_ = self.search([])
        return (
            models_.filtered(lambda m: m.segment == segment)[:1]
            or models_.filtered(lambda m: not m.segment)[:1]
        )

    # ------------------------------------------------------------------
    # Daily recompute (D5): set-based metrics, batched, resumable
    # ------------------------------------------------------------------
    @api.model
    def _cron_compute_health(self, today=None, batch=_BATCH):
        """Score every account once a day; each batch commits, a rerun skips done ones."""
        today = today or fields.Date.context_today(self)
        while True:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT p.id FROM res_partner p
                     WHERE p.cs_is_account AND p.active
                       AND NOT EXISTS (SELECT 1 FROM cs_health_snapshot s
                                        WHERE s.partner_id = p.id AND s.date = %(today)s)
                     ORDER BY p.id LIMIT %(batch)s
                    """,
                    today=today,
                    batch=batch,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                break
            self._compute_health(ids, today)
            # A long job over every customer: commit each batch so that a crash
            # resumes where it stopped (the query above skips scored accounts).
            if not getattr(threading.current_thread(), "testing", False):
                self.env.cr.commit()
        self.env["ir.cron"]._notify_progress(done=0, remaining=0)

    @api.model
    def _compute_health(self, partner_ids, today):
        values = self._metric_values(partner_ids, today)
        partners = self.env["res.partner"].browse(partner_ids)
        by_segment = {}
        rows, partner_updates = [], []
        trends = self._trends(partner_ids, today)
        for partner in partners:
            if partner.cs_health_locked and (
                not partner.cs_health_override_until or partner.cs_health_override_until >= today
            ):
                model = self.browse()
                score = partner.cs_health_override
                zone = health_service.zone_for(score, 70.0, 40.0)
                contributions = []
                forced = self.env._(
                    "Locked by %(user)s: %(reason)s",
                    user=partner.cs_health_override_user_id.name or "-",
                    reason=partner.cs_health_override_reason or "-",
                )
            else:
                segment = partner.cs_segment or False
                if segment not in by_segment:
                    found = self._for_segment(segment)
                    by_segment[segment] = (found, found._definition() if found else [])
                model, definition = by_segment[segment]
                if not model:
                    continue
                metric_values = values.get(partner.id, {})
                score, zone, contributions = health_service.score(
                    definition, metric_values, model.green_min, model.yellow_min
                )
                if score is None:
                    continue
                forced = self._critical(model, metric_values)
                if forced:
                    zone = "red"
                for row in contributions:
                    row["name"] = next(m["name"] for m in definition if m["code"] == row["code"])
            previous_7, previous_30 = trends.get(partner.id, (None, None))
            risk = health_service.churn_risk(
                zone, None if previous_30 is None else score - previous_30
            )
            rows.append(
                (
                    partner.id,
                    today,
                    score,
                    zone,
                    model.id or None,
                    model.version or 0,
                    json.dumps(contributions),
                    forced or None,
                    partner.company_id.id or None,
                )
            )
            partner_updates.append(
                (partner.id, score, zone, risk, previous_7, previous_30, model.id or None)
            )
        self._store(rows, partner_updates)

    @api.model
    def _critical(self, model, values):
        if model.critical_cancel and values.get("cancel_scheduled"):
            return self.env._("Cancellation scheduled")
        if model.critical_export and (values.get("export_requests_30d") or 0) > 0:
            return self.env._("Data export requested in the last 30 days")
        if (
            model.critical_overdue_days
            and (values.get("overdue_days") or 0) >= model.critical_overdue_days
        ):
            return self.env._("Invoice overdue %(days)s days", days=values["overdue_days"])
        return False

    @api.model
    def _trends(self, partner_ids, today):
        """Score 7 and 30 days ago (closest snapshot on or before), per partner."""
        self.env.cr.execute(
            SQL(
                """
                SELECT p.pid,
                       (SELECT score FROM cs_health_snapshot s WHERE s.partner_id = p.pid
                           AND s.date <= %(d7)s ORDER BY s.date DESC LIMIT 1),
                       (SELECT score FROM cs_health_snapshot s WHERE s.partner_id = p.pid
                           AND s.date <= %(d30)s ORDER BY s.date DESC LIMIT 1)
                  FROM unnest(%(ids)s::int[]) AS p(pid)
                """,
                ids=list(partner_ids),
                d7=today - timedelta(days=7),
                d30=today - timedelta(days=30),
            )
        )
        return {pid: (s7, s30) for pid, s7, s30 in self.env.cr.fetchall()}

    @api.model
    def _store(self, rows, partner_updates):
        if not rows:
            return
        uid, now = self.env.uid, fields.Datetime.now()
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO cs_health_snapshot
                   (partner_id, date, score, zone, model_id, model_version, contributions,
                    forced_reason, company_id, create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (partner_id, date) DO UPDATE
               SET score = EXCLUDED.score, zone = EXCLUDED.zone, model_id = EXCLUDED.model_id,
                   model_version = EXCLUDED.model_version,
                   contributions = EXCLUDED.contributions,
                   forced_reason = EXCLUDED.forced_reason, write_date = EXCLUDED.write_date
            """,
            [row + (uid, now, uid, now) for row in rows],
        )
        execute_values(
            self.env.cr._obj,
            """
            UPDATE res_partner p
               SET health_score = v.score, health_zone = v.zone, churn_risk = v.risk,
                   cs_health_trend_7 = v.score - v.s7, cs_health_trend_30 = v.score - v.s30,
                   cs_health_falling = COALESCE(v.score - v.s30 <= -10, false),
                   cs_health_model_id = v.model
              FROM (VALUES %s) AS v(id, score, zone, risk, s7, s30, model)
             WHERE p.id = v.id
            """,
            [
                (pid, score, zone, risk, s7, s30, model)
                for pid, score, zone, risk, s7, s30, model in partner_updates
            ],
            template="(%s, %s::float, %s, %s, %s::float, %s::float, %s::int)",
        )
        self.env.invalidate_all()

    @api.model
    def _metric_values(self, partner_ids, today):
        """Every metric of every given partner in one query."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH p AS (SELECT unnest(%(ids)s::int[]) AS pid),
                daily AS (
                    SELECT partner_id AS pid,
                           sum(value) FILTER (WHERE metric = 'login' AND date > %(d30)s) AS logins,
                           sum(value) FILTER (WHERE metric = 'key_action' AND date > %(d30)s)
                               AS actions_now,
                           sum(value) FILTER (WHERE metric = 'key_action' AND date <= %(d30)s
                               AND date > %(d60)s) AS actions_before,
                           max(value) FILTER (WHERE metric = 'active_users' AND date > %(d30)s)
                               AS active_users,
                           sum(value) FILTER (WHERE metric = 'ticket_opened' AND date > %(d90)s)
                               AS opened,
                           sum(value) FILTER (WHERE metric = 'ticket_closed' AND date > %(d90)s)
                               AS closed,
                           sum(value) FILTER (WHERE metric = 'ticket_critical' AND date > %(d30)s)
                               AS critical,
                           sum(value) FILTER (WHERE metric = 'export_request' AND date > %(d30)s)
                               AS exports
                      FROM cs_usage_daily
                     WHERE partner_id = ANY(%(ids)s) AND date > %(d90)s
                  GROUP BY partner_id
                ), seats AS (
                    SELECT s.commercial_partner_id AS pid, sum(s.seats) AS seats,
                           bool_or(s.cs_cancel_scheduled) AS cancel
                      FROM sale_subscription s
                      JOIN sale_subscription_stage st ON st.id = s.stage_id
                     WHERE s.commercial_partner_id = ANY(%(ids)s) AND st.type = 'in_progress'
                  GROUP BY 1
                ), overdue AS (
                    SELECT m.commercial_partner_id AS pid,
                           %(today)s::date - min(m.invoice_date_due) AS days
                      FROM account_move m
                     WHERE m.commercial_partner_id = ANY(%(ids)s)
                       AND m.move_type = 'out_invoice' AND m.state = 'posted'
                       AND m.payment_state IN ('not_paid', 'partial')
                       AND m.invoice_date_due < %(today)s
                  GROUP BY 1
                )
                SELECT p.pid, d.logins, d.actions_now, d.actions_before, d.active_users,
                       d.opened, d.closed, d.critical, d.exports, seats.seats,
                       COALESCE(overdue.days, 0), rp.cs_nps_score, rp.cs_nps_date,
                       rp.cs_days_silent, rp.cs_sentiment, COALESCE(seats.cancel, false)
                  FROM p
                  JOIN res_partner rp ON rp.id = p.pid
             LEFT JOIN daily d ON d.pid = p.pid
             LEFT JOIN seats ON seats.pid = p.pid
             LEFT JOIN overdue ON overdue.pid = p.pid
                """,
                ids=list(partner_ids),
                today=today,
                d30=today - timedelta(days=30),
                d60=today - timedelta(days=60),
                d90=today - timedelta(days=90),
            )
        )
        result = {}
        sentiments = {"green": 100.0, "yellow": 50.0, "red": 0.0}
        for (
            pid,
            logins,
            now_,
            before,
            active,
            opened,
            closed,
            critical,
            exports,
            seats,
            overdue_days,
            nps,
            nps_date,
            silent,
            sentiment,
            cancel,
        ) in self.env.cr.fetchall():
            if before:
                change = ((now_ or 0.0) - before) / before * 100.0
            else:
                change = 100.0 if now_ else None
            result[pid] = {
                "logins_30d": logins or 0.0,
                "activity_change": change,
                "seat_utilization": (active or 0.0) / seats * 100.0 if seats else None,
                "open_tickets": max((opened or 0.0) - (closed or 0.0), 0.0),
                "critical_tickets_30d": critical or 0.0,
                "nps": float(nps) if nps_date and nps_date > today - timedelta(days=365) else None,
                "overdue_days": float(overdue_days or 0),
                "days_silent": float(silent) if silent is not None else None,
                "sentiment": sentiments.get(sentiment),
                "export_requests_30d": exports or 0.0,
                "cancel_scheduled": cancel,
            }
        return result

    # ------------------------------------------------------------------
    # Backtest (D6): would this model have warned in time?
    # ------------------------------------------------------------------
    backtest_date = fields.Datetime(readonly=True)
    backtest_churned = fields.Integer(string="Churned Customers", readonly=True)
    backtest_detected = fields.Float(
        string="Warned ≥ 30 Days Before (%)",
        readonly=True,
        help="Share of churned customers that were red or yellow 30 days before churning.",
    )
    backtest_false_alarm = fields.Float(
        string="False Alarms (%)",
        readonly=True,
        help="Share of red or yellow customers that did not churn in the following 90 days.",
    )
    backtest_sample = fields.Integer(string="Customers Scored", readonly=True)

    def action_backtest(self, today=None, lead_days=30, horizon_days=90):
        """Score the database's own history with this model and compare with what happened.

        For every customer who churned in the last year, the model scores the
        metrics as they stood ``lead_days`` before the churn. False alarms are
        customers red or yellow on the first of each of the last 12 months who
        did not churn within ``horizon_days``.
        """
        today = today or fields.Date.context_today(self)
        Movement = self.env["cs.mrr.movement"].sudo()
        year_ago = today - timedelta(days=365)
        churns = Movement.search_read(
            [
                ("movement_type", "=", "churn"),
                ("mrr_after", "=", 0),
                ("date", ">=", year_ago),
                ("date", "<=", today),
            ],
            ["partner_id", "date"],
        )
        churn_dates = {}
        for row in churns:
            churn_dates.setdefault(row["partner_id"][0], []).append(row["date"])
        for model in self:
            definition = model._definition()

            def warns(values, model=model, definition=definition):
                score_, zone, _rows = health_service.score(
                    definition, values, model.green_min, model.yellow_min
                )
                if score_ is None:
                    return None
                return zone in ("red", "yellow") or bool(model._critical(model, values))

            by_day = {}
            for pid, dates in churn_dates.items():
                for day in dates:
                    by_day.setdefault(day - timedelta(days=lead_days), []).append(pid)
            detected = scored = 0
            for day, pids in by_day.items():
                values = self._metric_values(pids, day)
                for pid in pids:
                    verdict = warns(values.get(pid, {}))
                    if verdict is not None:
                        scored += 1
                        detected += verdict
            alarms = false_alarms = 0
            self.env.cr.execute(
                "SELECT id FROM res_partner WHERE cs_is_account AND customer_since IS NOT NULL"
            )
            account_ids = [r[0] for r in self.env.cr.fetchall()]
            for months_back in range(1, 13):
                day = fields.Date.subtract(today.replace(day=1), months=months_back)
                if day + timedelta(days=horizon_days) > today:
                    continue
                values = self._metric_values(account_ids, day)
                for pid in account_ids:
                    if warns(values.get(pid, {})):
                        alarms += 1
                        churned = any(
                            day < d <= day + timedelta(days=horizon_days)
                            for d in churn_dates.get(pid, [])
                        )
                        false_alarms += not churned
            model.write(
                {
                    "backtest_date": fields.Datetime.now(),
                    "backtest_churned": scored,
                    "backtest_detected": round(100.0 * detected / scored, 1) if scored else 0.0,
                    "backtest_false_alarm": round(100.0 * false_alarms / alarms, 1)
                    if alarms
                    else 0.0,
                    "backtest_sample": len(account_ids),
                }
            )
        return True

    coverage = fields.Float(
        string="Coverage (%)",
        compute="_compute_coverage",
        help="Share of paying customers with a health score from today or yesterday.",
    )

    def _compute_coverage(self):
        today = fields.Date.context_today(self)
        self.env["cs.health.snapshot"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*),
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM cs_health_snapshot s
                            WHERE s.partner_id = p.id AND s.date >= %(since)s))
                  FROM res_partner p
                 WHERE p.cs_is_account AND p.active AND p.cs_mrr > 0
                """,
                since=today - timedelta(days=1),
            )
        )
        total, fresh = self.env.cr.fetchone()
        for model in self:
            model.coverage = round(100.0 * fresh / total, 1) if total else 0.0

    def action_recompute_now(self):
        self.env["cs.health.snapshot"].search(
            [("date", "=", fields.Date.context_today(self))]
        ).unlink()
        self._cron_compute_health()
        return True


class CsHealthMeasure(models.Model):
    _name = "cs.health.measure"
    _description = "Health Measure"
    _order = "sequence, id"

    model_id = fields.Many2one("cs.health.model", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    metric = fields.Selection(METRICS, required=True)
    category = fields.Selection(CATEGORIES, required=True, default="product")
    weight = fields.Float(string="Weight (%)", required=True)
    rule_ids = fields.One2many("cs.health.rule", "measure_id", string="Scoring Rules", copy=True)

    def _rule_tuples(self):
        """The rules as (min or None, max or None, points), the form services.health reads."""
        self.ensure_one()
        return [
            (r.min_value if r.has_min else None, r.max_value if r.has_max else None, r.points)
            for r in self.rule_ids
        ]

    @api.constrains("weight", "rule_ids")
    def _check_measure(self):
        for measure in self:
            if measure.weight <= 0:
                raise ValidationError(
                    self.env._("Measure %(name)s: the weight must be positive.", name=measure.name)
                )
            if health_service.overlapping(measure._rule_tuples()):
                raise ValidationError(
                    self.env._(
                        "Measure %(name)s: two scoring rules cover the same values.",
                        name=measure.name,
                    )
                )


class CsHealthRule(models.Model):
    _name = "cs.health.rule"
    _description = "Health Scoring Rule"
    _order = "min_value, id"

    measure_id = fields.Many2one("cs.health.measure", required=True, ondelete="cascade", index=True)
    has_min = fields.Boolean(string="From", default=True)
    min_value = fields.Float(string="From Value")
    has_max = fields.Boolean(string="Below", default=False)
    max_value = fields.Float(string="Below Value")
    points = fields.Float(required=True, help="0 to 100 points when the value is in the range.")

    @api.constrains("min_value", "max_value", "has_min", "has_max", "points")
    def _check_rule(self):
        for rule in self:
            if not 0 <= rule.points <= 100:
                raise ValidationError(self.env._("Rule points must be between 0 and 100."))
            if rule.has_min and rule.has_max and rule.max_value <= rule.min_value:
                raise ValidationError(
                    self.env._("A scoring rule's upper bound must be above its lower bound.")
                )


class CsHealthSnapshot(models.Model):
    """One score per customer and day, with each measure's contribution (D4, D8)."""

    _name = "cs.health.snapshot"
    _description = "Health Snapshot"
    _order = "date desc, id desc"
    _rec_name = "date"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    date = fields.Date(required=True, index=True, readonly=True)
    score = fields.Float(readonly=True, aggregator="avg")
    zone = fields.Selection(ZONES, readonly=True)
    model_id = fields.Many2one("cs.health.model", readonly=True, ondelete="set null")
    model_version = fields.Integer(readonly=True)
    contributions = fields.Text(readonly=True)
    forced_reason = fields.Char(string="Forced Red / Locked", readonly=True)

    _sql_constraints = [
        ("partner_date_uniq", "unique(partner_id, date)", "One health snapshot a day."),
    ]
