# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import io
import json
import threading
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services import health as health_service
from .res_company import in_office_language
from .sale_subscription import OWING

METRICS = [
    ("logins_30d", "Logins, last 30 days"),
    ("activity_change", "Key actions, change vs previous 30 days (%)"),
    ("seat_utilization", "Active users / seats (%)"),
    ("open_tickets", "Open support tickets"),
    ("critical_tickets_30d", "Critical tickets, last 30 days"),
    ("nps", "Last NPS score (0-10)"),
    ("overdue_days", "Days unpaid: the oldest overdue invoice or failed payment"),
    ("days_silent", "Days since the customer last wrote"),
    ("sentiment", "CSM sentiment (green 100, yellow 50, red 0)"),
]
CATEGORIES = [
    ("product", "Product"),
    ("financial", "Financial"),
    ("communication", "Communication"),
]
ZONES = [("green", "Green"), ("yellow", "Yellow"), ("red", "Red")]
_BATCH = 5000
# COPY text format: NULL as \N, backslash, tab and line breaks escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value):
    return "\\N" if value is None else str(value).translate(_COPY_ESCAPES)


def _copy_number(value):
    return "\\N" if value is None else str(value)


def _copy_line(row):
    """One COPY line of a :meth:`CsHealthModel._store` row: only the free texts
    (contributions, forced reason) need escaping."""
    pid, day, score, zone, model_id, version, contributions, forced, company, risk, s7, s30 = row
    return (
        f"{pid}\t{day}\t{score}\t{zone}\t{_copy_number(model_id)}\t{version}\t"
        f"{contributions.translate(_COPY_ESCAPES)}\t{_copy_text(forced)}\t"
        f"{_copy_number(company)}\t{risk}\t{_copy_number(s7)}\t{_copy_number(s30)}\n"
    )


# Memory for the one hash aggregation of the nightly run over all daily usage.
_WORK_MEM = "256MB"
_SENTIMENT_POINTS = {"green": 100.0, "yellow": 50.0, "red": 0.0}


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
        help="Unpaid this many days forces red: an invoice overdue, or a payment its "
        "provider reported failed or overdue. 0 disables.",
    )
    measure_ids = fields.One2many("cs.health.measure", "model_id", string="Measures", copy=True)
    note = fields.Text(translate=True)

    @api.model
    def _seed_measures(self, model_id, commands):
        """Data: the measures of a shipped health model, given once. In the model's
        record they would be added again each time the module is initialised over an
        installed database (``odoo -i customer_success``): the weights would add up to
        200 % and the database would not load. Measures an admin edited are kept."""
        model = self.browse(model_id).exists()
        if model and not model.with_context(active_test=False).measure_ids:
            model.write({"measure_ids": commands})

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
    @in_office_language
    def _cron_compute_health(self, today=None, batch=_BATCH):
        """Score every account once a day; each batch commits, a rerun skips done ones.

        The metrics of every account not yet scored today are aggregated by one
        set-based statement into a temporary table; batches of it are then
        scored, stored and committed. Killed half-way, the next run aggregates
        only the accounts still without today's snapshot.
        """
        today = today or fields.Date.context_today(self)
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("DROP TABLE IF EXISTS cs_health_todo, cs_health_pending")
        cr.execute(
            SQL(
                """
                CREATE TEMP TABLE cs_health_todo AS
                SELECT p.id AS pid FROM res_partner p
                 WHERE p.cs_is_account AND p.active
                   AND NOT EXISTS (SELECT 1 FROM cs_health_snapshot s
                                    WHERE s.partner_id = p.id AND s.date = %s)
                """,
                today,
            )
        )
        # Real row counts for the planner: one hash aggregation over the usage table.
        cr.execute("ANALYZE cs_health_todo")
        # One large hash aggregation: memory for it, and no JIT compilation (which
        # costs more than it saves on a statement that runs once).
        cr.execute("SET LOCAL work_mem = %s", [_WORK_MEM])
        cr.execute("SET LOCAL jit = off")
        cr.execute(
            SQL(
                "CREATE TEMP TABLE cs_health_pending AS %s",
                self._metric_query(today, accounts=SQL("cs_health_todo AS p")),
            )
        )
        cr.execute("CREATE INDEX ON cs_health_pending (pid)")
        last = 0
        while True:
            cr.execute(
                "SELECT * FROM cs_health_pending WHERE pid > %s ORDER BY pid LIMIT %s",
                [last, batch],
            )
            rows = cr.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            self._score_rows(rows, today)
            # A long job over every customer: commit each batch so that a crash
            # resumes where it stopped (only accounts without a snapshot are pending).
            if not getattr(threading.current_thread(), "testing", False):
                cr.commit()
        cr.execute("DROP TABLE IF EXISTS cs_health_todo, cs_health_pending")
        self.env["ir.cron"]._notify_progress(done=0, remaining=0)

    @api.model
    def _compute_health(self, partner_ids, today):
        """Score the given accounts for ``today`` (snapshot and customer fields)."""
        self._score_rows(self._metric_rows(partner_ids, today), today)

    @api.model
    def _score_rows(self, metric_rows, today):
        """Score rows of :meth:`_metric_query` and store snapshots and customer fields."""
        by_segment = {}
        rows = []
        trends = self._trends([row[0] for row in metric_rows], today)
        for row in metric_rows:
            pid, company_id, segment = row[0], row[16], row[17] or False
            locked, override_until, override, reason, locked_by = row[18:23]
            if locked and (not override_until or override_until >= today):
                flags = None  # a locked manual score belongs to no model
                score = override
                zone = health_service.zone_for(score, 70.0, 40.0)
                contributions = []
                forced = self.env._(
                    "Locked by %(user)s: %(reason)s", user=locked_by or "-", reason=reason or "-"
                )
            else:
                if segment not in by_segment:
                    found = self._for_segment(segment)
                    definition = found._definition() if found else []
                    by_segment[segment] = (
                        found,
                        definition,
                        {m["code"]: m["name"] for m in definition},
                        found._critical_flags() if found else None,
                    )
                model, definition, names, flags = by_segment[segment]
                if not model:
                    continue
                metric_values = self._values_of(row, today)
                score, zone, contributions = health_service.score(
                    definition, metric_values, flags["green_min"], flags["yellow_min"]
                )
                if score is None:
                    continue
                forced = self._critical_of(flags, metric_values)
                if forced:
                    zone = "red"
                for contribution in contributions:
                    contribution["name"] = names[contribution["code"]]
            previous_7, previous_30 = trends.get(pid, (None, None))
            risk = health_service.churn_risk(
                zone, None if previous_30 is None else score - previous_30
            )
            rows.append(
                (
                    pid,
                    today,
                    score,
                    zone,
                    flags and flags["id"],
                    flags["version"] if flags else 0,
                    json.dumps(contributions, separators=(",", ":")),
                    forced or None,
                    company_id,
                    risk,
                    previous_7,
                    previous_30,
                )
            )
        self._store(rows)

    def _critical_flags(self):
        """What scoring reads of the model, read once per run (not once per customer)."""
        self.ensure_one()
        return {
            "id": self.id,
            "version": self.version,
            "green_min": self.green_min,
            "yellow_min": self.yellow_min,
            "cancel": self.critical_cancel,
            "export": self.critical_export,
            "overdue_days": self.critical_overdue_days,
        }

    @api.model
    def _critical(self, model, values):
        return self._critical_of(model._critical_flags(), values)

    @api.model
    def _critical_of(self, flags, values):
        """The reason a critical override forces red, or False."""
        if flags["cancel"] and values.get("cancel_scheduled"):
            return self.env._("Cancellation scheduled")
        if flags["export"] and (values.get("export_requests_30d") or 0) > 0:
            return self.env._("Data export requested in the last 30 days")
        if flags["overdue_days"] and (values.get("overdue_days") or 0) >= flags["overdue_days"]:
            return self.env._(
                "Unpaid for %(days)s days (an overdue invoice or a failed payment)",
                days=int(values["overdue_days"]),
            )
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
    def _store(self, rows):
        """Write scored rows set-based: COPY into a work table, then one upsert of the
        snapshots and one update of the customers.

        :param rows: tuples (partner id, date, score, zone, model id, model version,
            contributions JSON, forced reason, company id, churn risk, score 7 days
            ago, score 30 days ago)
        """
        if not rows:
            return
        cr = self.env.cr
        cr.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS cs_health_result (
                partner_id int, date date, score float8, zone varchar, model_id int,
                model_version int, contributions text, forced_reason varchar,
                company_id int, risk varchar, s7 float8, s30 float8)
            """
        )
        cr.execute("TRUNCATE cs_health_result")
        buffer = io.StringIO("".join(map(_copy_line, rows)))
        cr._obj.copy_expert("COPY cs_health_result FROM STDIN", buffer)
        uid, now = self.env.uid, fields.Datetime.now()
        cr.execute(
            SQL(
                """
                INSERT INTO cs_health_snapshot
                       (partner_id, date, score, zone, model_id, model_version, contributions,
                        forced_reason, company_id, create_uid, create_date, write_uid,
                        write_date)
                SELECT partner_id, date, score, zone, model_id, model_version, contributions,
                       forced_reason, company_id, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM cs_health_result
                ON CONFLICT (partner_id, date) DO UPDATE
                   SET score = EXCLUDED.score, zone = EXCLUDED.zone,
                       model_id = EXCLUDED.model_id, model_version = EXCLUDED.model_version,
                       contributions = EXCLUDED.contributions,
                       forced_reason = EXCLUDED.forced_reason, write_date = EXCLUDED.write_date
                """,
                uid=uid,
                now=now,
            )
        )
        cr.execute(
            """
            UPDATE res_partner p
               SET health_score = v.score, health_zone = v.zone, churn_risk = v.risk,
                   cs_health_trend_7 = v.score - v.s7, cs_health_trend_30 = v.score - v.s30,
                   cs_health_falling = COALESCE(v.score - v.s30 <= -10, false),
                   cs_health_model_id = v.model_id
              FROM cs_health_result v
             WHERE p.id = v.partner_id
            """
        )
        self.env["res.partner"].invalidate_model(
            [
                "health_score",
                "health_zone",
                "churn_risk",
                "cs_health_trend_7",
                "cs_health_trend_30",
                "cs_health_falling",
                "cs_health_model_id",
            ]
        )
        self.env["cs.health.snapshot"].invalidate_model()

    @api.model
    def _metric_query(self, today, ids=None, accounts=None):
        """Raw metrics and scoring inputs per account, one row each, in one statement.

        Either for the accounts ``ids``, or for ``accounts``: an SQL FROM item
        ``... AS p`` with a ``pid`` column (the nightly run's ``cs_health_todo``),
        scored by whole-table aggregations, hash-joined (no per-account probes).
        Columns: see :meth:`_values_of` and :meth:`_score_rows`.
        """
        if accounts is not None:
            daily_filter = sub_filter = move_filter = SQL("TRUE")
        else:
            ids = list(ids or [])
            accounts = SQL("unnest(%s::int[]) AS p(pid)", ids)
            daily_filter = SQL("partner_id = ANY(%s)", ids)
            sub_filter = SQL("s.commercial_partner_id = ANY(%s)", ids)
            move_filter = SQL("m.commercial_partner_id = ANY(%s)", ids)
        return SQL(
            """
            WITH daily AS (
                SELECT partner_id AS pid,
                       sum(value) FILTER (WHERE metric = 'login' AND date > %(d30)s) AS logins,
                       sum(value) FILTER (WHERE metric = 'key_action' AND date > %(d30)s)
                           AS actions_now,
                       sum(value) FILTER (WHERE metric = 'key_action' AND date <= %(d30)s
                           AND date > %(d60)s) AS actions_before,
                       max(value) FILTER (WHERE metric = 'active_users' AND date > %(d30)s)
                           AS active_users,
                       sum(value) FILTER (WHERE metric = 'ticket_opened') AS opened,
                       sum(value) FILTER (WHERE metric = 'ticket_closed') AS closed,
                       sum(value) FILTER (WHERE metric = 'ticket_critical' AND date > %(d30)s)
                           AS critical,
                       sum(value) FILTER (WHERE metric = 'export_request' AND date > %(d30)s)
                           AS exports
                  FROM cs_usage_daily
                 WHERE %(daily_filter)s AND date > %(d90)s AND date <= %(today)s
              GROUP BY partner_id
            ), seats AS (
                SELECT s.commercial_partner_id AS pid, sum(s.seats) AS seats,
                       bool_or(s.cs_cancel_scheduled) AS cancel,
                       -- a provider's failed or overdue payment counts as an overdue invoice
                       min(s.cs_unpaid_since)
                           FILTER (WHERE s.payment_status = ANY(%(owing)s))
                           AS unpaid_since
                  FROM sale_subscription s
                  JOIN sale_subscription_stage st ON st.id = s.stage_id
                 WHERE %(sub_filter)s AND st.type = 'in_progress'
              GROUP BY 1
            ), overdue AS (
                SELECT m.commercial_partner_id AS pid,
                       %(today)s::date - min(m.invoice_date_due) AS days
                  FROM account_move m
                 WHERE %(move_filter)s
                   AND m.move_type = 'out_invoice' AND m.state = 'posted'
                   AND m.payment_state IN ('not_paid', 'partial')
                   AND m.invoice_date_due < %(today)s
              GROUP BY 1
            )
            SELECT p.pid, d.logins, d.actions_now, d.actions_before, d.active_users,
                   d.opened, d.closed, d.critical, d.exports, seats.seats,
                   GREATEST(COALESCE(overdue.days, 0),
                            COALESCE(%(today)s::date - seats.unpaid_since, 0)) AS overdue_days,
                   rp.cs_nps_score, rp.cs_nps_date,
                   rp.cs_days_silent, rp.cs_sentiment, COALESCE(seats.cancel, false) AS cancel,
                   rp.company_id, rp.cs_segment, rp.cs_health_locked,
                   rp.cs_health_override_until, rp.cs_health_override,
                   rp.cs_health_override_reason, locker.name AS locked_by
              FROM %(accounts)s
              JOIN res_partner rp ON rp.id = p.pid
         LEFT JOIN daily d ON d.pid = p.pid
         LEFT JOIN seats ON seats.pid = p.pid
         LEFT JOIN overdue ON overdue.pid = p.pid
         LEFT JOIN res_users lu ON lu.id = rp.cs_health_override_user_id
         LEFT JOIN res_partner locker ON locker.id = lu.partner_id
            """,
            accounts=accounts,
            daily_filter=daily_filter,
            sub_filter=sub_filter,
            move_filter=move_filter,
            today=today,
            d30=today - timedelta(days=30),
            d60=today - timedelta(days=60),
            d90=today - timedelta(days=90),
            owing=list(OWING),
        )

    @api.model
    def _values_of(self, row, today):
        """{metric: value} of one :meth:`_metric_query` row (None: no data)."""
        (
            _pid,
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
        ) = row[:16]
        if before:
            change = ((now_ or 0.0) - before) / before * 100.0
        else:
            change = 100.0 if now_ else None
        return {
            "logins_30d": logins or 0.0,
            "activity_change": change,
            "seat_utilization": (active or 0.0) / seats * 100.0 if seats else None,
            "open_tickets": max((opened or 0.0) - (closed or 0.0), 0.0),
            "critical_tickets_30d": critical or 0.0,
            "nps": float(nps) if nps_date and nps_date > today - timedelta(days=365) else None,
            "overdue_days": float(overdue_days or 0),
            "days_silent": float(silent) if silent is not None else None,
            "sentiment": _SENTIMENT_POINTS.get(sentiment),
            "export_requests_30d": exports or 0.0,
            "cancel_scheduled": cancel,
        }

    @api.model
    def _metric_values(self, partner_ids, today):
        """Every metric of every given partner in one query: {partner id: {metric: value}}."""
        return {
            row[0]: self._values_of(row, today) for row in self._metric_rows(partner_ids, today)
        }

    @api.model
    def _metric_rows(self, partner_ids, today):
        """The rows of :meth:`_metric_query` for the given accounts."""
        self.env.flush_all()
        self.env.cr.execute(self._metric_query(today, ids=list(partner_ids)))
        return self.env.cr.fetchall()

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
        did not churn within ``horizon_days``. Only the customers the model scores
        count: those of its segment, or for a model without one, those of every
        segment without a model of its own (as it would be active, so that a draft
        model can be tried before it replaces another).
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
        all_churn_dates = {}
        for row in churns:
            all_churn_dates.setdefault(row["partner_id"][0], []).append(row["date"])
        self.env.cr.execute(
            "SELECT id FROM res_partner WHERE cs_is_account AND customer_since IS NOT NULL"
        )
        all_account_ids = [r[0] for r in self.env.cr.fetchall()]
        self.env["res.partner"].flush_model(["cs_segment"])
        self.env.cr.execute(
            "SELECT id, cs_segment FROM res_partner WHERE id = ANY(%s)",
            [list(set(all_account_ids) | set(all_churn_dates))],
        )
        segment_of = dict(self.env.cr.fetchall())
        own_segments = set(self.search([("segment", "!=", False)]).mapped("segment"))
        for model in self:
            definition = model._definition()
            if model.segment:
                scored_segments = {model.segment}
            else:
                # Every segment, and customers without one, but those with their own model.
                scored_segments = {False, *dict(self._fields["segment"].selection)} - own_segments
            churn_dates = {
                pid: dates
                for pid, dates in all_churn_dates.items()
                if (segment_of.get(pid) or False) in scored_segments
            }
            account_ids = [
                pid for pid in all_account_ids if (segment_of.get(pid) or False) in scored_segments
            ]

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
