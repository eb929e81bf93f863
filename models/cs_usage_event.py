# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

from ..services import usage as usage_service

EVENT_TYPES = [
    ("login", "Login"),
    ("key_action", "Key action"),
    ("feature_used", "Feature used"),
    ("active_users", "Active users"),
    ("usage", "Plan usage"),
    ("ticket_opened", "Ticket opened"),
    ("ticket_closed", "Ticket closed"),
    ("ticket_critical", "Critical ticket"),
    ("discount_request", "Discount request"),
    ("export_request", "Data export request"),
    ("new_contact", "New contact person"),
    ("escalation", "Escalation"),
]
_DELETE_BATCH = 50000


class CsUsageEvent(models.Model):
    """Raw product-usage and signal events, kept a configurable number of days (C5)."""

    _name = "cs.usage.event"
    _description = "Usage Event"
    _order = "timestamp desc, id desc"
    _rec_name = "event_type"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    subscription_id = fields.Many2one(
        "sale.subscription", index=True, ondelete="set null", readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    event_type = fields.Selection(EVENT_TYPES, string="Type", required=True, readonly=True)
    timestamp = fields.Datetime(required=True, readonly=True)
    date = fields.Date(required=True, index=True, readonly=True)
    value = fields.Float(readonly=True)
    user_ref = fields.Char(string="User", readonly=True)
    feature = fields.Char(readonly=True)
    external_id = fields.Char(string="Client Event ID", readonly=True)
    api_key_id = fields.Many2one("cs.api.key", string="Source", readonly=True, ondelete="set null")

    _sql_constraints = [
        (
            "external_id_uniq",
            "unique(company_id, external_id)",
            "This client event ID was already received.",
        ),
    ]

    # ------------------------------------------------------------------
    @api.model
    def _resolve_accounts(self, company, items):
        """Map each item's account reference to (partner id, subscription id) in ``company``."""
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        Sub = self.env["sale.subscription"].sudo()
        wanted = {key: set() for key in usage_service.ACCOUNT_KEYS}
        for item in items:
            for key, value in item["account"].items():
                wanted[key].add(value)
        found = {key: {} for key in wanted}
        # A customer is an account of the company where it has subscriptions (partners
        # without a company are shared across companies and prove nothing).
        company_domain = [("cs_subscription_ids.company_id", "=", company.id)]
        if wanted["partner_id"]:
            for partner in Partner.search(
                [("id", "in", list(wanted["partner_id"])), ("cs_is_account", "=", True)]
                + company_domain
            ):
                found["partner_id"][partner.id] = (partner.id, False)
        if wanted["customer_ref"]:
            for partner in Partner.search(
                [("ref", "in", list(wanted["customer_ref"])), ("cs_is_account", "=", True)]
                + company_domain
            ):
                found["customer_ref"][partner.ref] = (partner.id, False)
        sub_domain = [("company_id", "=", company.id)]
        if wanted["external_customer_ref"]:
            for sub in Sub.search(
                [("external_customer_ref", "in", list(wanted["external_customer_ref"]))]
                + sub_domain
            ):
                found["external_customer_ref"][sub.external_customer_ref] = (
                    sub.commercial_partner_id.id,
                    False,
                )
        if wanted["subscription_ref"]:
            for sub in Sub.search(
                [("external_subscription_ref", "in", list(wanted["subscription_ref"]))] + sub_domain
            ):
                found["subscription_ref"][sub.external_subscription_ref] = (
                    sub.commercial_partner_id.id,
                    sub.id,
                )
        result = []
        for item in items:
            match = None
            for key, value in item["account"].items():
                match = found[key].get(value)
                if match:
                    break
            result.append(match)
        return result

    @api.model
    def _ingest(self, company, raw_items, api_key=None, now=None):
        """Validate, store and aggregate a batch; valid items are kept when others fail.

        :return: (accepted, duplicates, errors) where errors is a list of
            ``{"index": i, "errors": [...]}``
        """
        now = now or usage_service.now_utc()
        errors, valid = [], []
        for index, raw in enumerate(raw_items):
            item, item_errors = usage_service.validate_item(raw, now)
            if item_errors:
                errors.append({"index": index, "errors": item_errors})
            else:
                valid.append((index, item))
        accounts = self._resolve_accounts(company, [item for _i, item in valid])
        rows = []
        for (index, item), account in zip(valid, accounts, strict=True):
            if not account:
                errors.append(
                    {
                        "index": index,
                        "errors": ["account: no customer account matches %s" % item["account"]],
                    }
                )
                continue
            rows.append(
                (
                    account[0],
                    account[1] or None,
                    company.id,
                    item["type"],
                    item["timestamp"],
                    item["timestamp"].date(),
                    item["value"],
                    item["user_ref"],
                    item["feature"],
                    item["external_id"],
                    api_key.id if api_key else None,
                )
            )
        accepted = self._insert_and_aggregate(rows) if rows else 0
        if api_key:
            api_key.sudo().write(
                {
                    "last_used_at": fields.Datetime.now(),
                    "event_count": api_key.event_count + accepted,
                }
            )
        errors.sort(key=lambda e: e["index"])
        return accepted, len(rows) - accepted, errors

    def _insert_and_aggregate(self, rows):
        """One multi-row INSERT (duplicates skipped), then one upsert of the daily rows."""
        uid, now = self.env.uid, fields.Datetime.now()
        inserted = execute_values(
            self.env.cr._obj,
            """
            INSERT INTO cs_usage_event
                   (partner_id, subscription_id, company_id, event_type, timestamp, date, value,
                    user_ref, feature, external_id, api_key_id,
                    create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (company_id, external_id) DO NOTHING
            RETURNING partner_id, company_id, event_type, date, value
            """,
            [row + (uid, now, uid, now) for row in rows],
            fetch=True,
        )
        if inserted:
            self.env["cs.usage.daily"]._add(inserted)
        self.env.invalidate_all()
        return len(inserted)

    @api.model
    def _cron_purge(self):
        """Delete raw events older than each company's retention, in batches."""
        for company in self.env["res.company"].sudo().search([]):
            limit = fields.Date.context_today(self) - timedelta(
                days=max(company.cs_raw_event_retention_days, 1)
            )
            while True:
                self.env.cr.execute(
                    SQL(
                        """
                        DELETE FROM cs_usage_event WHERE id IN (
                            SELECT id FROM cs_usage_event
                             WHERE company_id = %(company)s AND date < %(limit)s
                             LIMIT %(batch)s)
                        """,
                        company=company.id,
                        limit=limit,
                        batch=_DELETE_BATCH,
                    )
                )
                if self.env.cr.rowcount < _DELETE_BATCH:
                    break
        self.invalidate_model()


class CsUsageDaily(models.Model):
    """One row per customer, day and metric: what health scoring reads (C5)."""

    _name = "cs.usage.daily"
    _description = "Daily Usage"
    _order = "date desc, partner_id, metric"
    _rec_name = "metric"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    date = fields.Date(required=True, index=True, readonly=True)
    metric = fields.Selection(EVENT_TYPES, required=True, readonly=True)
    value = fields.Float(readonly=True, help="Sum of the day for counters, maximum for gauges.")
    event_count = fields.Integer(string="Events", readonly=True)

    _sql_constraints = [
        ("day_uniq", "unique(partner_id, date, metric)", "One row per customer, day and metric."),
    ]

    @api.model
    def _add(self, inserted):
        """Fold (partner, company, type, date, value) rows into the daily table."""
        folded = {}
        for partner_id, company_id, metric, date, value in inserted:
            key = (partner_id, company_id, metric, date)
            total, count = folded.get(key, (0.0, 0))
            if usage_service.EVENT_TYPES[metric] == "max":
                folded[key] = (max(total, value), count + 1)
            else:
                folded[key] = (total + value, count + 1)
        uid, now = self.env.uid, fields.Datetime.now()
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO cs_usage_daily AS d
                   (partner_id, company_id, metric, date, value, event_count,
                    create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (partner_id, date, metric) DO UPDATE
               SET value = CASE WHEN d.metric IN ('active_users', 'usage')
                                THEN GREATEST(d.value, EXCLUDED.value)
                                ELSE d.value + EXCLUDED.value END,
                   event_count = d.event_count + EXCLUDED.event_count,
                   write_date = EXCLUDED.write_date
            """,
            [key + (value, count, uid, now, uid, now) for key, (value, count) in folded.items()],
        )
