# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import datetime
from datetime import timedelta

import psycopg2
import pytz
from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo import sql_db
from odoo import tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools import float_round
from odoo.tools import mute_logger
from odoo.tools.sql import create_index

from ..services.providers.common import PayloadError
from ..services.providers.common import WebhookError
from ..services.providers.common import as_dict
from .cs_billing_account import PROVIDERS
from .res_company import in_office_language
from .sale_subscription import OWING

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# What reading a payload of unexpected shape raises (text where a number goes, a list
# where an object goes, a field missing): the same payload fails the same way again,
# so such an event fails at once. Network errors (OSError, some of them ValueErrors
# too) are retried.
MISSHAPEN = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)
BATCH = 5000  # events at most per run of the inbox job
CHUNK = 50  # events per transaction
DRAIN_CHUNK = 100  # events per transaction while a backlog is drained
BUDGET = 5.0  # seconds per run of the inbox job (the scheduler re-runs it while work remains)
LINGER = 3.0  # seconds an empty inbox is watched before the job ends
POLL = 0.25  # seconds between two looks at the inbox when it has no backlog
GATHER = 2.0  # seconds at most an event waits for its chunk to fill under a stream
WAKE_EVERY = 1.0  # seconds: a process's webhooks wake the inbox job at most this often
_WOKEN = {}  # database name: when this process last woke its inbox job (time.time())

STATES = [
    ("received", "Received"),
    ("processed", "Processed"),
    ("ignored", "Ignored"),
    ("unmatched", "Unmatched"),
    ("failed", "Failed"),
]


def asks_payment(invoice):
    """Whether ``invoice`` is posted and still asks for something to be paid."""
    return invoice.state == "posted" and not invoice.currency_id.is_zero(invoice.amount_residual)


class CsBillingEvent(models.Model):
    """The inbox of billing notifications (SPEC B3).

    Webhooks only verify and store here (unique per account and provider event
    id) and acknowledge; a cron processes the inbox in batches, retries with
    back-off, and each provider module applies its own effects
    (``_apply_<provider>``) through the MRR ledger.
    """

    _name = "cs.billing.event"
    _description = "Billing Event"
    _order = "id desc"
    _rec_name = "external_id"

    account_id = fields.Many2one(
        # indexed by the unique (account_id, external_id) constraint
        "cs.billing.account",
        string="Billing Account",  # "Account" is a customer everywhere else
        required=True,
        ondelete="cascade",
        readonly=True,
    )
    provider = fields.Selection(PROVIDERS, required=True, readonly=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    external_id = fields.Char(string="Provider Event ID", required=True, readonly=True)
    event_type = fields.Char(readonly=True)
    event_created = fields.Datetime(
        string="Provider Time", readonly=True, help="When the provider emitted the event."
    )
    payload = fields.Text(readonly=True)
    payload_display = fields.Text(
        string="Payload (formatted)",
        compute="_compute_payload_display",
        help="The payload as received, JSON indented for reading.",
    )
    object_ref = fields.Char(
        string="Provider Object",
        readonly=True,
        help="The provider object the event is about: the subscription whose full state it "
        "carries, or the charge that a payment, refund or dispute event concerns.",
    )
    object_status = fields.Char(
        string="Provider Status",
        readonly=True,
        help="The status of the provider object in this event (a Stripe subscription's): "
        "a newer state of the same day supersedes an older one in the same status only.",
    )
    state = fields.Selection(STATES, default="received", required=True, readonly=True)
    error = fields.Text(readonly=True)
    result = fields.Char(readonly=True, help="What processing did with the event.")
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    subscription_id = fields.Many2one(
        "sale.subscription",
        index=True,
        ondelete="set null",
        help="Set it on an unmatched event to link it, then reprocess.",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, readonly=True)
    to_reconcile = fields.Boolean(
        readonly=True,
        help="Money that moved at the provider and waits for an accountant: a payment no "
        "open invoice matched, a refund, a lost dispute or a refund that failed.",
    )
    amount = fields.Monetary(readonly=True)
    recovered = fields.Boolean(
        readonly=True,
        help="A payment that settled a subscription whose payment had failed or was "
        "overdue: revenue won back.",
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    payment_id = fields.Many2one("account.payment", readonly=True)
    is_payment = fields.Boolean(
        string="Customer Payment",
        compute="_compute_is_payment",
        help="Money the customer paid (not a refund, nor a refund that failed): it can be "
        "registered on an invoice.",
    )

    _sql_constraints = [
        (
            "account_external_uniq",
            "unique(account_id, external_id)",
            "This provider event is already in the inbox.",
        ),
    ]

    candidate_subscription_ids = fields.Many2many(
        "sale.subscription",
        string="Likely Subscriptions",
        compute="_compute_candidate_subscription_ids",
        help="Running subscriptions of this company whose customer has the payer's email or "
        "the provider's customer ID: link one, and the event is applied.",
    )

    def init(self):
        # Few, partial indexes: each event is inserted once and updated once or
        # twice (a new state is never a HOT update), so every index costs the
        # webhook and the cron; these cover the inbox queries and the lists of
        # open work, not the millions of processed events.
        create_index(
            self.env.cr,
            "cs_billing_event_open_index",
            self._table,
            ["state", "next_attempt_at"],
            where="state IN ('received', 'unmatched', 'failed')",
        )
        create_index(
            self.env.cr,
            "cs_billing_event_waiting_object_index",
            self._table,
            ["object_ref"],
            where="state = 'received'",
        )
        create_index(
            self.env.cr,
            "cs_billing_event_to_reconcile_index",
            self._table,
            ["company_id"],
            where="to_reconcile",
        )

    # ------------------------------------------------------------------
    # Receiving (called by the webhook controller, must stay fast)
    # ------------------------------------------------------------------
    @api.model
    def _store(self, account, event, state="received", result=None):
        """Insert a verified event once; a duplicate (even concurrent) is a no-op.

        A re-delivery is recognised by a plain read (an INSERT ... ON CONFLICT would
        wait for the inbox cron's transaction whenever it is updating that row); a
        new event is inserted by a plain INSERT (simple statements: planning one
        that did all of it cost more than running it) and wakes the inbox job
        (:meth:`_wake_inbox`).

        :return: (event record, True if it was new)
        """
        settings = self.env["cs.billing.account"]._webhook_settings(account.id)
        now = fields.Datetime.now()
        created = datetime.utcfromtimestamp(event.created) if event.created else now
        # The raw body was decoded from bytes, so it always encodes back; a payload
        # built from parsed values may hold lone surrogates from JSON escapes, which
        # are then kept escaped.
        payload = event.raw
        if not payload:
            payload = json.dumps(event.payload, ensure_ascii=False)
            try:
                payload.encode("utf-8")
            except UnicodeEncodeError:
                payload = json.dumps(event.payload)
        cr = self.env.cr
        # A re-delivery: a plain read, which never waits for the inbox job.
        cr.execute(
            "SELECT id FROM cs_billing_event WHERE account_id = %s AND external_id = %s",
            [settings.id, event.external_id],
        )
        row = cr.fetchone()
        if row:
            return self.browse(row[0]), False
        try:
            with mute_logger("odoo.sql_db"):
                cr.execute(
                    SQL(
                        """
                        SAVEPOINT cs_billing_event_store;
                        INSERT INTO cs_billing_event
                               (account_id, provider, company_id, external_id, event_type,
                                event_created, payload, object_ref, object_status, state,
                                result, attempts, next_attempt_at, create_uid, create_date,
                                write_uid, write_date)
                        VALUES (%(account)s, %(provider)s, %(company)s, %(external_id)s,
                                %(type)s, %(created)s, %(payload)s, %(object_ref)s,
                                %(object_status)s, %(state)s, %(result)s, 0, %(now)s, %(uid)s,
                                %(now)s, %(uid)s, %(now)s)
                        ON CONFLICT (account_id, external_id) DO NOTHING
                        RETURNING id
                        """,
                        account=settings.id,
                        provider=settings.provider,
                        company=settings.company_id,
                        external_id=event.external_id,
                        type=event.event_type,
                        created=created,
                        payload=payload,
                        object_ref=event.object_ref or None,
                        object_status=event.object_status or None,
                        state=state,
                        result=result,
                        uid=self.env.uid,
                        now=now,
                    )
                )
                row = cr.fetchone()
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.UniqueViolation):
            # The same event arrived on another connection that committed first.
            cr.execute("ROLLBACK TO SAVEPOINT cs_billing_event_store")
            return self._stored_by_other(settings.id, event.external_id), False
        except psycopg2.DataError as exc:
            # A value the columns cannot hold: the sender's mistake, refused with 400.
            cr.execute("ROLLBACK TO SAVEPOINT cs_billing_event_store")
            raise PayloadError("The event cannot be stored: %s" % str(exc).split("\n")[0]) from exc
        if not row:  # inserted meanwhile by a concurrent delivery
            stored = self._stored(account, event.external_id)
            return stored or self._stored_by_other(settings.id, event.external_id), False
        if state == "received":
            self._wake_inbox()
        return self.browse(row[0]), True

    def _stored_by_other(self, account_id, external_id):
        """The event another connection stored and committed after this transaction's
        snapshot was taken (so it cannot see it), read on a connection of its own: its
        record, with the payload this transaction could not read (Kaspi compares the
        sum of a repeated ``pay``, and answers with our id)."""
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as other:
            other.execute(
                "SELECT id, payload FROM cs_billing_event "
                "WHERE account_id = %s AND external_id = %s",
                [account_id, external_id],
            )
            row = other.fetchone()
        if not row:
            return self.browse()
        record = self.browse(row[0])
        self.env.cache.update(record, self._fields["payload"], [row[1]])
        return record

    def _wake_inbox(self):
        """Trigger the inbox job unless this process did so for this database less than
        ``WAKE_EVERY`` seconds ago (a wake-up is a trigger row and a NOTIFY on a new
        connection: not one per request). The job watches an empty inbox for
        ``LINGER`` seconds, longer than ``WAKE_EVERY`` plus a poll, so an event stored
        without a wake-up is seen by the job that the last wake-up started."""
        dbname, now = self.env.cr.dbname, time.time()
        last = _WOKEN.get(dbname)
        if last is not None and 0 <= now - last < WAKE_EVERY:
            return
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "customer_success.ir_cron_billing_events", raise_if_not_found=False
        )
        if not cron_id:
            return
        self.env["ir.cron"].sudo().browse(cron_id)._trigger()
        _WOKEN[dbname] = now

        def forget():  # a wake-up rolled back woke nothing
            if _WOKEN.get(dbname) == now:
                _WOKEN[dbname] = last

        self.env.cr.postrollback.add(forget)

    def _store_ignored(self, account, event, why):
        """:meth:`_store` an event the CRM does not apply, to acknowledge it; ``why(env)``
        says why in the office's language, as the inbox cron writes (a webhook carries no
        language)."""
        Event = self.with_context(lang=self.env["res.company"]._cs_cron_lang())
        return Event._store(account, event, state="ignored", result=why(Event.env))

    def _stored(self, account, external_id):
        """The inbox event of this account with this provider id, if any."""
        self.env.cr.execute(
            "SELECT id FROM cs_billing_event WHERE account_id = %s AND external_id = %s",
            [account.id, external_id],
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0] if row else [])

    # ------------------------------------------------------------------
    # Processing
    # ------------------------------------------------------------------
    @api.model
    @in_office_language
    def _cron_process_events(
        self, limit=BATCH, chunk=CHUNK, budget=BUDGET, linger=LINGER, drain_chunk=DRAIN_CHUNK
    ):
        """Process due events in chunks for up to ``budget`` seconds.

        Each chunk commits: rows of the inbox, subscriptions and the ledger stay
        locked for one chunk's time, never a whole run's, so that users are not
        kept waiting behind the cron (webhooks never wait for it: they only read
        and insert). Without a backlog the job looks at the inbox every ``POLL``
        seconds and ends after ``linger`` seconds without events: under a stream
        of webhooks one job start (and one wake-up of the cron worker) serves many
        chunks. A chunk costs much more than its events alone (the batch paths of
        the providers read, recompute and write for the whole chunk at once), so
        while events keep arriving the job lets a chunk fill — see
        :meth:`_gather` — and applies it as soon as the stream pauses. A backlog
        (a chunk came full) is drained in chunks of ``drain_chunk`` events, for
        the same reason: about a sixth less CPU per event at 100 than at 50.
        Work left when the budget is spent is reported, and the scheduler runs
        the job again at once.
        """
        testing = getattr(threading.current_thread(), "testing", False)
        started = idle_since = time.monotonic()
        done = 0
        size = chunk
        while done < limit and time.monotonic() - started < budget:
            count = self._process_due(limit=min(size, limit - done))
            done += count
            if count and not testing:
                self.env.cr.commit()
            if count == size:
                size = max(chunk, drain_chunk)
                continue  # a backlog: no pause
            size = chunk
            if count:
                idle_since = time.monotonic()
            elif testing or time.monotonic() - idle_since >= linger:
                break
            if not testing:
                self._gather(chunk, deadline=started + budget)
        remaining = self.search_count(
            [("state", "=", "received"), ("next_attempt_at", "<=", fields.Datetime.now())]
        )
        if remaining and not testing:
            # Odoo re-runs a job that reports remaining work, but after ten runs it
            # waits for a wake-up: this trigger is that wake-up.
            self.env.ref("customer_success.ir_cron_billing_events")._trigger()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _gather(self, chunk, deadline):
        """Wait, looking at the inbox every ``POLL`` seconds, until a chunk is
        worth applying: ``chunk`` events are due, or events are due and none
        arrived since the previous look (the stream paused or ended: nobody is
        kept waiting for a chunk that will not fill), or the first of them has
        waited ``GATHER`` seconds, or the job's budget is spent. Each look is one
        count on the inbox's partial index, in its own snapshot."""
        seen = 0
        gathering_since = None
        while time.monotonic() < deadline:
            time.sleep(POLL)
            self.env.cr.commit()  # a new snapshot: the events stored meanwhile
            self.env.cr.execute(
                SQL(
                    "SELECT count(*) FROM (SELECT 1 FROM cs_billing_event WHERE %s LIMIT %s) due",
                    self._due_condition(),
                    chunk,
                )
            )
            due = self.env.cr.fetchone()[0]
            if not due:
                return
            now = time.monotonic()
            gathering_since = gathering_since or now
            if due >= chunk or due == seen or now - gathering_since >= GATHER:
                return
            seen = due

    @api.model
    def _due_condition(self):
        """SQL: the events of the inbox due now (on its partial index)."""
        return SQL("state = 'received' AND next_attempt_at <= %s", fields.Datetime.now())

    @api.model
    def _process_due(self, limit=BATCH):
        self.flush_model(["state", "next_attempt_at"])  # events re-queued in this transaction
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM cs_billing_event
                 WHERE %(due)s
                 ORDER BY event_created, id
                 LIMIT %(limit)s
                   FOR UPDATE SKIP LOCKED
                """,
                due=self._due_condition(),
                limit=limit,
            )
        )
        events = self.browse([row[0] for row in self.env.cr.fetchall()])
        events._process()
        return len(events)

    def _process(self):
        """Apply the events: first what a provider applies as a batch
        (``_apply_<provider>_batch``, returning the events it applied), then each
        remaining event in its own savepoint: one failure never blocks the rest."""
        rest = self
        for provider in set(self.mapped("provider")):
            method = "_apply_%s_batch" % provider
            events = self.filtered(lambda e, provider=provider: e.provider == provider)
            if len(events) < 2 or not hasattr(events, method):
                continue
            try:
                with self.env.cr.savepoint():
                    rest -= getattr(events, method)()
            except Exception as exc:  # noqa: BLE001 - the events are then applied one by one
                _logger.warning("Billing events: batch of %d failed (%s)", len(events), exc)
                self.env.invalidate_all(flush=False)
        failed = self.browse()
        for event in rest:
            try:
                with self.env.cr.savepoint():
                    # A subscription that starts owing owes since the event's day.
                    applying = event.with_context(cs_unpaid_since=event._event_date())
                    state, result = getattr(applying, "_apply_%s" % event.provider)()
                    event.write(
                        {
                            "state": state,
                            "result": result,
                            "error": False,
                            "processed_at": fields.Datetime.now(),
                        }
                    )
            except Exception as exc:  # noqa: BLE001 - stored on the event and retried
                _logger.warning("Billing event %s failed: %s", event.external_id, exc)
                event.invalidate_recordset()
                attempts = event.attempts + 1
                error = "%s: %s" % (type(exc).__name__, exc)
                misshapen = isinstance(exc, MISSHAPEN) and not isinstance(exc, OSError)
                if misshapen:
                    error = self.env._(
                        "%(provider)s sent this event in a shape it cannot be read in (a "
                        "value of an unexpected type, or one missing), so it is not retried. "
                        "Compare its payload with the provider's documentation; reprocess it "
                        "once the cause is fixed. %(error)s",
                        provider=event._provider_name(),
                        error=error,
                    )
                vals = {"attempts": attempts, "error": error}
                if misshapen or attempts >= MAX_ATTEMPTS:
                    vals["state"] = "failed"
                    failed |= event
                else:
                    vals["next_attempt_at"] = fields.Datetime.now() + timedelta(minutes=2**attempts)
                event.write(vals)
        failed._alert_responsible("failed")
        rest.filtered(lambda e: e.state == "unmatched")._alert_responsible("unmatched")

    def _alert_texts(self, env, state, account, count):
        """(summary, introduction) of the to-do on ``account`` about its events in
        ``state`` (failed or unmatched), in the language of ``env``."""
        if state == "failed":
            return env._("Billing events failed"), env._(
                "Events of %(account)s that failed (after their retries, or at once when "
                "their data cannot be read): %(count)s. Fix the cause, then reprocess them: "
                "Billing → Billing Events, filter Failed.",
                count=count,
                account=account.name,
            )
        return env._("Billing events to link"), env._(
            "Events of %(account)s that match no subscription: %(count)s. Open each one and "
            "link it to its subscription (the event proposes likely ones), it is applied "
            "then: Billing → Billing Events, filter Unmatched.",
            count=count,
            account=account.name,
        )

    def _alert_responsible(self, state):
        """Events that failed for good, or that match no subscription: a to-do on their
        billing account for its responsible, one open to-do per account and state
        brought up to date with each new event (an email tells them when it is
        created, as for any to-do assigned to them)."""
        for account in self.account_id:
            self._sync_alert(account, state, create=True)

    def _close_settled_alerts(self):
        """Bring the responsible's to-dos of these events' accounts up to date after some
        were applied (reprocessed or linked): the count and list of those still
        waiting, or, when none is left, the to-do marked done."""
        for account in self.account_id:
            for state in ("failed", "unmatched"):
                self._sync_alert(account, state)

    def _sync_alert(self, account, state, create=False):
        """The to-do of ``account``'s responsible about its events in ``state``, written
        from what waits now (the newest five listed)."""
        domain = [("account_id", "=", account.id), ("state", "=", state)]
        count = self.search_count(domain)
        waiting = self.search(domain, order="id desc", limit=5) if count else self.browse()

        def note(env):
            if not count:
                return None
            return Markup("<p>%s</p><ul>%s</ul>") % (
                self._alert_texts(env, state, account, count)[1],
                Markup().join(
                    Markup("<li>%s %s: %s</li>")
                    % (e.event_type, e.external_id, e.error if state == "failed" else e.result)
                    for e in waiting
                ),
            )

        account._cs_keep_alert(
            lambda env: self._alert_texts(env, state, account, count)[0],
            note,
            lambda env: env._("All of them are applied now."),
            create=create,
        )

    @api.depends("state", "payload", "company_id")
    def _compute_candidate_subscription_ids(self):
        Sub = self.env["sale.subscription"]
        for event in self:
            event.candidate_subscription_ids = Sub
            if event.state != "unmatched":
                continue
            emails, refs = event._payer_hints()
            clauses = [[("external_customer_ref", "in", refs)]] if refs else []
            clauses += [[("partner_id.email", "=ilike", email)] for email in emails]
            clauses += [[("commercial_partner_id.email", "=ilike", email)] for email in emails]
            if clauses:
                event.candidate_subscription_ids = Sub.search(
                    expression.AND(
                        [
                            [
                                ("company_id", "=", event.company_id.id),
                                ("stage_id.type", "=", "in_progress"),
                            ],
                            expression.OR(clauses),
                        ]
                    ),
                    limit=5,
                )

    def _payer_hints(self):
        """(emails, provider customer ids) an event's payload names its payer by, in
        any provider's words: Stripe's object, YooKassa's object, a form's fields."""
        try:
            data = as_dict(self._data())
        except ValueError:
            return [], []
        obj = as_dict(as_dict(data.get("data")).get("object")) or as_dict(data.get("object"))
        obj = obj or data
        emails = [obj.get(key) for key in ("EMail", "Email", "customer_email", "receipt_email")]
        emails.append(as_dict(obj.get("billing_details")).get("email"))
        customer = obj.get("customer")  # Stripe's id, or the expanded customer
        refs = [as_dict(customer).get("id") if isinstance(customer, dict) else customer]
        refs.append(obj.get("AccountId"))
        return (
            list({e.strip() for e in emails if isinstance(e, str) and "@" in e}),
            list({r for r in refs if isinstance(r, str) and r.isprintable() and r}),
        )

    def action_reprocess(self):
        """Process again now (after linking a subscription or fixing data)."""
        events = self.filtered(lambda e: e.state != "processed")
        events._requeue()
        events._process()
        events._close_settled_alerts()
        return True

    @api.depends("payload")
    def _compute_payload_display(self):
        for event in self:
            try:
                text = json.dumps(json.loads(event.payload or ""), indent=2, ensure_ascii=False)
            except (ValueError, RecursionError):  # a form body, kept as it came
                text = event.payload
            else:  # lone surrogates from JSON escapes stay escaped: \ud83d
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
            event.payload_display = text

    @api.depends("amount", "event_type")
    def _compute_is_payment(self):
        for event in self:
            event.is_payment = (
                event.amount > 0 and event.event_type not in self._REFUND_REVERSAL_TYPES
            )

    def _requeue(self):
        """Back in the inbox, due now, with a fresh count of attempts."""
        self.write(
            {
                "state": "received",
                "attempts": 0,
                "error": False,
                "next_attempt_at": fields.Datetime.now(),
            }
        )

    def action_reprocess_selected(self):
        """*Reprocess* on a selection in the list: up to a chunk is applied at once and
        summed up in a notification; a larger selection is queued for the inbox job,
        so that the request returns at once whatever was selected."""
        events = self.filtered(lambda e: e.state != "processed")
        if not events:
            message = self.env._("Nothing to reprocess: the selected events are processed.")
            kind = "info"
        elif len(events) > CHUNK:
            events._requeue()
            self.env.ref("customer_success.ir_cron_billing_events")._trigger()
            message = self.env._(
                "Queued for the inbox job, which applies them in the background: %(count)s.",
                count=len(events),
            )
            kind = "info"
        else:
            events.action_reprocess()
            states = Counter(events.mapped("state"))
            done = states["processed"] + states["ignored"]
            message = self.env._(
                "Reprocessed: %(count)s. Applied or ignored: %(done)s, unmatched: "
                "%(unmatched)s, to be retried: %(waiting)s, failed: %(failed)s.",
                count=len(events),
                done=done,
                unmatched=states["unmatched"],
                waiting=states["received"],
                failed=states["failed"],
            )
            kind = "success" if done == len(events) else "warning"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": kind,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_mark_reconciled(self):
        self.filtered("to_reconcile").write({"to_reconcile": False})

    def _data(self):
        self.ensure_one()
        return json.loads(self.payload or "{}")

    def _event_date(self):
        """The event's day in its company's time zone (the payment's, the movement's)."""
        return self._company_day(self.event_created or fields.Datetime.now())

    def _company_tz(self):
        """The time zone of the event's company (UTC if its name is unknown, as Odoo's
        ``context_timestamp`` does)."""
        try:
            return pytz.timezone((self.company_id or self.env.company).sudo()._cs_office_tz())
        except pytz.UnknownTimeZoneError:
            return pytz.utc

    def _company_day(self, moment, tz=None):
        """The day of ``moment`` (naive UTC) in the time zone of the event's company."""
        return pytz.utc.localize(moment).astimezone(tz or self._company_tz()).date()

    def _provider_date(self, timestamp):
        """A provider's Unix time (a period's end, a due date) as a day of the company."""
        if not timestamp:
            return False
        return self._company_day(datetime.utcfromtimestamp(int(timestamp)))

    # Events whose positive amount undoes a refund rather than pays: no invoice takes it.
    _REFUND_REVERSAL_TYPES = ()
    # Events carrying a subscription's full state, so that a newer one supersedes them.
    _SUPERSEDABLE_TYPES = ("customer.subscription.created", "customer.subscription.updated")

    def _superseded_by(self, status):
        """A newer event of the same day carrying the same provider object in the same
        status, still waiting in the inbox: it will apply the newest state, so this
        one need not apply an intermediate one. The day's MRR, status and flags end
        the same; the ledger keeps one movement for the day's net change."""
        self.ensure_one()
        if not self.object_ref or not self.event_created:
            return False
        self.env.cr.execute(
            SQL(
                """
                SELECT external_id FROM cs_billing_event
                 WHERE account_id = %(account)s AND object_ref = %(ref)s
                   AND state = 'received' AND id != %(id)s
                   AND event_type = ANY(%(types)s)
                   AND event_created > %(created)s AND event_created < %(day_end)s
                   AND object_status = %(status)s
              ORDER BY event_created DESC
                 LIMIT 1
                """,
                account=self.account_id.id,
                ref=self.object_ref,
                id=self.id,
                types=list(self._SUPERSEDABLE_TYPES),
                created=self.event_created,
                day_end=self._day_end(),
                status=status or "",
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else False

    def _day_end(self):
        """The end (naive UTC) of this event's day in its company's time zone: only states
        of one day supersede each other (another day is another state of the ledger)."""
        tz = self._company_tz()
        day = self._company_day(self.event_created or fields.Datetime.now(), tz)
        next_day = datetime.combine(day + timedelta(days=1), datetime.min.time())
        return tz.localize(next_day).astimezone(pytz.utc).replace(tzinfo=None)

    def _is_stale(self, synced_at):
        """Older than the newest state already applied (out-of-order delivery)."""
        return bool(synced_at and self.event_created and self.event_created < synced_at)

    # ------------------------------------------------------------------
    # Shared effects used by the provider modules
    # ------------------------------------------------------------------
    def _csm_of(self, subscription):
        partner = subscription.commercial_partner_id
        return partner.csm_id or partner.user_id or subscription.user_id or self.env.user

    def _schedule(self, subscription, summary, note, days=0, activity_type=None):
        """A to-do for the CSM; an identical one still open is brought up to date
        instead (one "Upgrade" to-do for three upgrades, not three).

        ``summary`` and ``note`` are text, or functions of an environment in the
        CSM's language (``lambda env: env._(...)``): a to-do reads in the language of
        the person it is for, whatever the language the inbox job runs in.
        ``activity_type`` is a plain to-do unless given.
        """
        return self._schedule_many([(subscription, summary, note, days)], activity_type)

    @staticmethod
    def _text(value, env):
        """``value`` for a reader of ``env``'s language: text as it is, or a function
        of the environment called with it."""
        return value(env) if callable(value) else value

    def _schedule_many(self, todos, activity_type=None):
        """:meth:`_schedule` for a batch of ``(subscription, summary, note, days)``:
        one search for the open to-dos, one create for the new ones."""
        Activity = self.env["mail.activity"]
        if not todos:
            return Activity
        today = fields.Date.context_today(self)
        rendered = []
        for subscription, summary, note, days in todos:
            user = self._csm_of(subscription)
            env = self.with_context(lang=user.lang or self.env.lang).env
            rendered.append(
                (subscription, user, self._text(summary, env), self._text(note, env), days)
            )
        open_todos = Activity.search(
            [
                ("res_model", "=", "sale.subscription"),
                ("res_id", "in", list({sub.id for sub, *_rest in rendered})),
                ("summary", "in", list({summary for _sub, _user, summary, *_rest in rendered})),
            ]
        )
        found = {(a.res_id, a.user_id.id, a.summary): a for a in open_todos}
        todo_type = activity_type or self.env.ref("mail.mail_activity_data_todo")
        model_id = self.env["ir.model"]._get_id("sale.subscription")
        new = {}
        for subscription, user, summary, note, days in rendered:
            deadline = today + timedelta(days=days)
            key = (subscription.id, user.id, summary)
            if key in found:
                todo = found[key]
                vals = {"note": note}
                if deadline < todo.date_deadline:  # else no recount of the CSM's to-dos
                    vals["date_deadline"] = deadline
                todo.write(vals)
            elif key in new:
                new[key].update(note=note, date_deadline=min(new[key]["date_deadline"], deadline))
            else:
                new[key] = {
                    "activity_type_id": todo_type.id,
                    "summary": summary,
                    "automated": True,
                    "note": note,
                    "date_deadline": deadline,
                    "res_model_id": model_id,
                    "res_id": subscription.id,
                    "user_id": user.id,
                }
        # quick update: no assignment email per activity, the CSM sees it in Odoo.
        created = Activity.with_context(mail_activity_quick_update=True).create(list(new.values()))
        return open_todos | created

    @api.model
    def _subscription_by_ref(self, account, ref, domain=()):
        """The subscription of ``account`` whose provider id, else whose code, is ``ref``
        (a reference customers and providers may carry either way)."""
        Sub = self.env["sale.subscription"]
        if not ref:
            return Sub
        base = [("billing_account_id", "=", account.id), *domain]
        return Sub.search(base + [("external_subscription_ref", "=", ref)], limit=1) or (
            Sub.search(base + [("code", "=", ref)], limit=1)
        )

    def _sole_subscription(self, domain, running_only=True):
        """The one subscription of this event's account matching ``domain``, else none:
        a match by customer is taken only when it is unambiguous. Among the running
        ones only, or (``running_only=False``) among all, the running one deciding
        when there are several."""
        Sub = self.env["sale.subscription"]
        base = [("billing_account_id", "=", self.account_id.id), *domain]
        if running_only:
            found = Sub.search(base + [("stage_id.type", "=", "in_progress")], limit=2)
        else:
            found = Sub.search(base)
            if len(found) > 1:
                found = found.filtered(lambda s: s.stage_id.type == "in_progress")
        return found if len(found) == 1 else Sub

    def _subscription_of_event(self, external_id):
        """The subscription an earlier event of the same account was applied to (a
        refund follows its payment's event, linked by hand maybe)."""
        return self.search(
            [("account_id", "=", self.account_id.id), ("external_id", "=", external_id)],
            limit=1,
        ).subscription_id

    def _bind(self, subscription):
        """Link the event to its subscription; the returned subscription writes ledger
        movements dated at the event and sourced from its provider."""
        self.ensure_one()
        self.write(
            {
                "subscription_id": subscription.id,
                "partner_id": subscription.commercial_partner_id.id,
            }
        )
        return subscription.with_context(
            cs_movement_date=self._event_date(), cs_movement_source=self.provider
        )

    def _find_currency(self, code, default):
        return (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", (code or "").upper())], limit=1)
            or default
        )

    def _effect_payment_succeeded(
        self,
        subscription,
        amount,
        currency,
        reference,
        paid_until,
        recovered=False,
        elsewhere=False,
    ):
        """B4 "payment succeeded": invoice paid and reconciled, status paid.

        The payment is *recovered* revenue when it settles a failed or overdue
        subscription, or when the provider says so (``recovered``: Stripe's invoice
        paid at a later attempt). A payment of nothing (see
        :meth:`_effect_nothing_paid`) moves no money. An invoice the provider was told
        was paid another way (``elsewhere``: Stripe's ``paid_out_of_band``, a bank
        transfer say) settles the subscription, but the money did not pass through
        the provider: no payment is registered on its journal, the accountant books
        it from the bank statement."""
        if not elsewhere and (currency or subscription.currency_id).is_zero(amount or 0.0):
            return self._effect_nothing_paid(subscription, paid_until)
        if elsewhere:
            self.write({"amount": amount, "currency_id": currency.id if currency else False})
            matched = True
        else:
            matched = self._register_payment(
                subscription, amount, currency, reference, self._event_date()
            )
        result = self.env._(
            "Payment of %(amount)s %(currency)s",
            amount=self._money(amount, currency),
            currency=currency.name,
        )
        if elsewhere:
            result += " — " + self.env._(
                "paid outside %(provider)s: no payment registered, book it from the bank statement",
                provider=self._provider_name(),
            )
        stale = self._is_stale(subscription.cs_payment_synced_at)
        if recovered or (not stale and subscription.payment_status in OWING):
            self.recovered = True
        if not stale:
            subscription.write(
                {
                    "payment_status": "paid",
                    "amount_due": 0.0,
                    "next_payment_date": paid_until or subscription.next_payment_date,
                    "cs_payment_synced_at": self.event_created,
                }
            )
            self._close_payment_issues(subscription, result)
        if not matched:
            result += " — " + self.env._("to reconcile")
        return "processed", result

    def _effect_nothing_paid(self, subscription, paid_until):
        """An invoice paid with nothing to pay: Stripe's invoice of a trial's start, of
        a period a coupon makes free, or one the customer's credit balance covered.
        No money came, so no payment is registered, none waits for an accountant and
        no revenue is recovered; the period is paid for, unless the subscription owes
        for another invoice, which this one does not settle."""
        if subscription.payment_status in OWING:
            return "processed", self.env._(
                "Invoice paid with nothing to pay; the subscription still owes "
                "%(amount)s %(currency)s of another invoice",
                amount=self._money(subscription.amount_due, subscription.currency_id),
                currency=subscription.currency_id.name,
            )
        if not self._is_stale(subscription.cs_payment_synced_at):
            subscription.write(
                {
                    "payment_status": "paid",
                    "next_payment_date": paid_until or subscription.next_payment_date,
                    "cs_payment_synced_at": self.event_created,
                }
            )
        return "processed", self.env._(
            "Invoice paid with nothing to pay (a trial, a free period or the customer's "
            "credit): no payment to register"
        )

    def _payment_issue_type(self):
        return self.env.ref(
            "customer_success.mail_activity_type_payment_issue", raise_if_not_found=False
        )

    def _close_payment_issues(self, subscription, result):
        """The CSM's payment to-dos of ``subscription`` are done once it owes nothing: no
        one chases a customer who has paid. Each is marked done with ``result``, what
        settled it."""
        issue_type = self._payment_issue_type()
        if not issue_type:
            return
        issues = self._open_todos(subscription, ("activity_type_id", "=", issue_type.id))
        self._done_by_itself(issues, result)

    def _csm_todos(self, subscription, *summaries):
        """The open to-dos of ``subscription`` with one of ``summaries`` (texts, or
        functions of an environment, see :meth:`_schedule`) as its CSM, who got them,
        reads them."""
        user = self._csm_of(subscription)
        env = self.with_context(lang=user.lang or self.env.lang).env
        titles = [self._text(summary, env) for summary in summaries]
        return self._open_todos(subscription, ("summary", "in", titles))

    def _open_todos(self, subscription, condition):
        """The open to-dos of ``subscription`` that meet ``condition`` (a domain term)."""
        return self.env["mail.activity"].search(
            [("res_model", "=", "sale.subscription"), ("res_id", "=", subscription.id), condition]
        )

    def _done_by_itself(self, todos, result):
        """Mark ``todos`` done, noting ``result``: what the provider reported that made
        them moot."""
        if todos:
            todos.action_feedback(
                feedback=self.env._(
                    "Closed by itself: %(result)s (%(provider)s).",
                    result=result,
                    provider=self._provider_name(),
                )
            )

    def _paid_again(self, subscription, vals):
        """Whether ``vals``, a provider's subscription state about to be written, makes
        a subscription whose payment failed or is overdue paid again — the provider
        only says so once the open invoice is paid, so nothing is due any more
        (``vals`` gets it), even before or without the payment's own event. Once
        written, :meth:`_paid_again_note` closes the payment to-dos."""
        if vals.get("payment_status") != "paid" or subscription.payment_status not in OWING:
            return False
        vals["amount_due"] = 0.0
        return True

    def _paid_again_note(self, subscription):
        """Close the payment to-dos of ``subscription`` paid again; return the note."""
        note = self.env._(
            "Paid again: %(provider)s reports the subscription active",
            provider=self._provider_name(),
        )
        self._close_payment_issues(subscription, note)
        return note

    def _effect_payment_failed(
        self,
        subscription,
        amount,
        currency,
        reason,
        next_attempt=None,
        notify=True,
        advice=None,
        pay_url=None,
        explains_newer=False,
    ):
        """B4 "payment failed": status failed, amount due, CSM activity, email to the client.

        ``reason`` and ``advice`` (what the CSM can do) are texts or functions of the
        reader's environment, see :meth:`_text`; ``next_attempt`` the date the provider
        tries again, ``pay_url`` the provider's page where the client pays now (both
        given in the email). ``explains_newer``: this event is older than the payment
        state applied but is what that state came from (it applies, and the newer
        state's time stays the one to compare with)."""
        synced_at = subscription.cs_payment_synced_at
        if self._is_stale(synced_at) and not explains_newer:
            return "ignored", self.env._("Older than the payment state already applied.")
        subscription.write(
            {
                "payment_status": "failed",
                "amount_due": amount,
                "next_payment_date": next_attempt or subscription.next_payment_date,
                "cs_payment_synced_at": synced_at
                if explains_newer and synced_at
                else self.event_created,
            }
        )
        partner = subscription.commercial_partner_id

        def note(env):
            failed = env._(
                "A payment of %(amount)s %(currency)s from %(customer)s failed (%(reason)s).",
                amount=self._money(amount, currency, env),
                currency=currency.name,
                customer=partner.name,
                reason=self._text(reason, env),
            )
            then = self._text(advice, env) or env._("Check the payment method with the customer.")
            return "%s %s" % (failed, then)

        self._schedule(
            subscription,
            lambda env: env._("Payment failed: %(customer)s", customer=partner.name),
            note,
            activity_type=self._payment_issue_type(),
        )
        if notify:
            # The email promises a retry only when the provider has scheduled one.
            template = self.env.ref("customer_success.mail_template_payment_failed")
            template.with_context(
                cs_next_attempt=next_attempt or False,
                cs_pay_url=pay_url if (pay_url or "").startswith("https://") else False,
            ).send_mail(subscription.id)
        return "processed", self.env._(
            "Payment failed (%(reason)s), %(amount)s %(currency)s due",
            reason=self._text(reason, self.env),
            amount=self._money(amount, currency),
            currency=currency.name,
        )

    def _autopay_retry(self, link, retriable, reason):
        """The charge of the invoice again, queued for the day the account's schedule
        gives, after the job's autopayment ``link`` was declined for a reason a later
        charge can pass (``retriable``); None when none is due: a charge made by hand, a
        decline to retry never, the schedule done, the invoice settled, the card gone,
        or a charge of that invoice queued or under way already."""
        account = self.account_id.sudo()
        invoice = link.invoice_id
        if not (
            link.autopayment
            and link.attempt
            and retriable
            and invoice
            and asks_payment(invoice)
            and link._autopays(link.subscription_id)
        ):
            return None
        schedule = account._autopay_retry_schedule()
        if link.attempt > len(schedule):
            return None
        Request = self.env["cs.billing.payment.request"].sudo()
        if Request.search_count(
            [
                ("invoice_id", "=", invoice.id),
                "|",
                ("state", "=", "draft"),
                "&",
                ("state", "=", "waiting"),
                ("autopayment", "=", True),
            ]
        ):
            return None
        # Counted from the decline (the provider's time of the payment), not from when the
        # inbox got to it; one already due is made by the next run of the job.
        declined_at = min(self.event_created or fields.Datetime.now(), fields.Datetime.now())
        retry_at = fields.Datetime.add(declined_at, days=schedule[link.attempt - 1])
        return Request.create(
            {
                "account_id": account.id,
                "subscription_id": link.subscription_id.id,
                "invoice_id": invoice.id,
                "amount": invoice.amount_residual,
                "currency_id": invoice.currency_id.id,
                "attempt": link.attempt + 1,
                "retry_at": retry_at,
                "last_message": self.env._(
                    "Retry %(retry)s of %(retries)s of the autopayment declined (%(reason)s).",
                    retry=link.attempt,
                    retries=len(schedule),
                    reason=reason(self.env),
                ),
            }
        )

    def _retries_exhausted(self, attempt):
        """Whether the declined autopayment ``attempt`` was the last retry of the
        account's schedule (a retry: with no schedule, no card is ever retried)."""
        return attempt > 1 and attempt > len(self.account_id.sudo()._autopay_retry_schedule())

    def _forget_declined_card(self, link, reason):
        """After the last retry of the schedule was declined too, the card ``link``
        charged is charged no more, for its invoice or the next ones: they get payment
        links where the account makes them, until the customer pays one and saves a
        card again (a card the schedule could not charge in weeks would otherwise be
        declined again on every invoice). Said in the chatter; return whether it was
        forgotten (not a card saved since)."""
        subscription = link.subscription_id.sudo()
        saved = subscription.cs_payment_method_ref
        if not (link.autopayment and saved and self._retries_exhausted(link.attempt)):
            return False
        charged = link.sudo().card_ref
        if charged and charged != saved:
            return False  # the customer saved another card since
        subscription._cs_forget_saved_card(
            lambda title: self.env._(
                "%(method)s was declined on all %(charges)s charges of invoice "
                "%(invoice)s, the retries of the schedule included (%(reason)s): it is "
                "charged no more. The next invoices are not charged to it until the "
                "customer pays a link and saves a card again.",
                method=title,
                invoice=link.invoice_id.name or link.display_name,
                charges=link.attempt,
                reason=reason(self.env),
            )
        )
        return True

    def _with_retry(self, advice, retry, day, attempt, forgotten=False):
        """``advice`` after the declined autopayment ``attempt``, said with what comes
        next: the ``day`` the card is charged again (by ``retry``), or that it is not
        (``forgotten``: nor for the next invoices)."""
        retries = len(self.account_id.sudo()._autopay_retry_schedule())
        last = self._retries_exhausted(attempt)

        def told(env):
            if retry:
                then = env._(
                    "The card is charged again on %(day)s (retry %(retry)s of %(retries)s).",
                    day=tools.format_date(env, day),
                    retry=retry.attempt - 1,
                    retries=retries,
                )
            elif last and forgotten:
                then = env._(
                    "That was the last retry: the card is charged no more, for this invoice "
                    "or the next ones, until the customer pays a link and saves a card again."
                )
            elif last:
                then = env._("That was the last retry: the card is not charged again.")
            else:
                then = env._("The card is not charged again by itself.")
            return "%s %s" % (then, advice(env))

        return told

    def _failure_link(self, subscription, amount, currency, invoice=None):
        """A new payment link for a failed payment, when the account asks for one
        (YooKassa, Robokassa): its URL goes in the failed-payment email (that of the
        invoice's link still waiting, when there is one). A link that
        cannot be made (credentials, receipt data, the provider's refusal, the network)
        leaves the failure as it is, with the reason in the subscription's chatter."""
        account = self.account_id.sudo()
        if not account.failure_payment_link or not amount:
            return None
        # Of the declined autopayment's invoice when it asks that amount: withdrawn once
        # a retry or another payment settles it.
        of_invoice = (
            invoice
            and asks_payment(invoice)
            and invoice.currency_id == currency
            and not currency.compare_amounts(invoice.amount_residual, amount)
        )
        Request = self.env["cs.billing.payment.request"]
        # A retry declined again: the link of the decline before, still waiting, is sent
        # again rather than a second one (two live links, two payments).
        waiting = Request._waiting_for(invoice if of_invoice else None, account, amount)
        if waiting.payment_link:
            return waiting.payment_link
        try:
            with self.env.cr.savepoint():
                request = Request.create(
                    {
                        "account_id": account.id,
                        "subscription_id": subscription.id,
                        "amount": amount,
                        "currency_id": currency.id,
                        "invoice_id": invoice.id if of_invoice else False,
                    }
                )
                getattr(request, "_send_%s" % account.provider)()
        except (UserError, WebhookError, ValueError, OSError) as exc:
            subscription._message_log(
                body=self.env._(
                    "No payment link could be made for the failed payment: %(reason)s",
                    reason=str(exc),
                )
            )
            return None
        return request.payment_link

    def _money(self, amount, currency, env=None):
        """An amount as people read it: the currency's decimals, grouped the way of the
        language the message is written in (``450 000,00`` in Russian), that of
        ``env`` if given."""
        env = env or self.env
        digits = currency.decimal_places if currency else 2
        # formatLang, with the language looked up once per transaction and language
        # (the inbox job writes three amounts an event).
        langs = env.cr.cache.setdefault("cs_money_langs", {})
        if env.lang not in langs:
            langs[env.lang] = tools.get_lang(env).id
        rounded = float_round(amount or 0.0, precision_digits=digits, rounding_method="HALF-EVEN")
        lang = env["res.lang"].browse(langs[env.lang])
        return lang.format(f"%.{digits}f", rounded, grouping=True)

    def _provider_name(self):
        return dict(PROVIDERS).get(self.provider, self.provider or "")

    def _mrr_change(self, subscription, old_mrr):
        """To-dos ``(subscription, summary, note, days)`` and messages for the move of
        the subscription's MRR from ``old_mrr`` to its applied value."""
        todos, messages = [], []
        partner = subscription.commercial_partner_id
        new_mrr = subscription.mrr
        delta = new_mrr - old_mrr
        provider = self._provider_name()

        def amounts(env):
            return {
                "customer": partner.name,
                "provider": provider,
                "old": self._money(old_mrr, subscription.currency_id, env),
                "new": self._money(new_mrr, subscription.currency_id, env),
                "currency": subscription.currency_id.name,
            }

        if old_mrr and delta > 0:
            todos.append(
                (
                    subscription,
                    lambda env: env._("Upgrade: thank %(customer)s", customer=partner.name),
                    lambda env: env._(
                        "%(customer)s upgraded in %(provider)s: "
                        "MRR %(old)s → %(new)s %(currency)s.",
                        **amounts(env),
                    ),
                    2,
                )
            )
            messages.append(
                self.env._(
                    "Upgrade, MRR +%(delta)s", delta=self._money(delta, subscription.currency_id)
                )
            )
        elif old_mrr and delta < 0 and new_mrr:
            todos.append(
                (
                    subscription,
                    lambda env: env._("Downgrade: call %(customer)s today", customer=partner.name),
                    lambda env: env._(
                        "%(customer)s downgraded in %(provider)s: "
                        "MRR %(old)s → %(new)s %(currency)s. "
                        "Find out why and try to win the revenue back.",
                        **amounts(env),
                    ),
                    0,
                )
            )
            messages.append(
                self.env._(
                    "Downgrade, MRR %(delta)s", delta=self._money(delta, subscription.currency_id)
                )
            )
        return todos, messages

    def _effect_cancelled(self, subscription, reason, comment="", vals=None, delinquent=False):
        """B4 "cancellation": status cancelled, subscription closed (churn, voluntary unless
        ``delinquent``), an exit-interview to-do with the reason, a chatter message."""
        vals = dict(vals or {}, payment_status="failed" if delinquent else "cancelled")
        if self.event_created and not self._is_stale(subscription.cs_payment_synced_at):
            # A payment event older than the cancellation is history: it changes no status
            # and emails no client who has left (a payment is still registered).
            vals["cs_payment_synced_at"] = self.event_created
        subscription = subscription.with_context(
            cs_churn_kind="delinquent" if delinquent else "voluntary"
        )
        subscription.write(vals)
        if subscription.stage_id.type != "post":
            subscription.close_subscription()
        partner = subscription.commercial_partner_id
        provider = self._provider_name()

        def reason_in(env):
            return self._text(reason, env) or env._("no reason given")

        self._schedule(
            subscription,
            lambda env: env._("Exit interview: %(customer)s", customer=partner.name),
            lambda env: env._(
                "%(customer)s cancelled in %(provider)s (%(reason)s). Hold the exit interview "
                "and record the churn reason. %(comment)s",
                customer=partner.name,
                provider=provider,
                reason=reason_in(env),
                comment=comment,
            ),
            days=1,
        )
        said = reason_in(self.env)  # the chatter and the event speak the office's language
        subscription._message_log(
            body=Markup("<p>%s</p>")
            % self.env._(
                "%(provider)s: subscription cancelled (%(reason)s).",
                provider=provider,
                reason=said,
            ),
        )
        return "processed", self.env._("Cancelled (%(reason)s)", reason=said)

    def _effect_refund(self, subscription, amount, currency, payment_ref):
        """B4 "refund": money went back to the customer; a chatter note, and the refund
        is registered on the subscription's open credit note of that amount, else waits
        in "Payments to Reconcile" for the accountant's credit note."""
        self.write({"amount": -amount, "currency_id": currency.id, "to_reconcile": True})
        credit_note = subscription._cs_open_invoice(amount, currency, "out_refund")
        if credit_note and self._register_on(credit_note):
            self.to_reconcile = False
        subscription._message_log(
            body=Markup("<p>%s</p>")
            % self.env._(
                "%(provider)s refund of %(amount)s %(currency)s (payment %(payment)s).",
                provider=self._provider_name(),
                amount=self._money(amount, currency),
                currency=currency.name,
                payment=payment_ref or "-",
            ),
        )
        if not self.to_reconcile:
            return "processed", self.env._(
                "Refund of %(amount)s %(currency)s — registered on %(invoice)s",
                amount=self._money(amount, currency),
                currency=currency.name,
                invoice=credit_note.name,
            )
        return "processed", self.env._(
            "Refund of %(amount)s %(currency)s — to reconcile",
            amount=self._money(amount, currency),
            currency=currency.name,
        )

    def _register_payment(self, subscription, amount, currency, reference, date):
        """Pay and reconcile the open invoice of that amount, else flag for accountants:
        also when no journal takes the payment or ``date`` is in a locked period (the
        accountant then registers it in an open one)."""
        self.ensure_one()
        self.write({"amount": amount, "currency_id": currency.id if currency else False})
        invoice = subscription._cs_open_invoice(amount, currency)
        if not invoice or not self._register_on(invoice, reference=reference, day=date):
            self.to_reconcile = True
            return False
        return True

    @api.model
    def _pay_posted_invoices(self, invoices):
        """Register on ``invoices``, just posted, the provider payments that came before
        them and wait in *Payments to Reconcile*: a renewal the provider charged before
        Odoo invoiced it, a one-off invoice paid at the provider (a setup fee) before
        the accountant invoiced it in Odoo; and on credit notes the money that went
        back (a refund, a lost dispute), which waits for its credit note. An invoice
        takes the oldest waiting payment of its subscription (an invoice of none: of
        its customer, of no subscription) in its currency and of exactly what it asks,
        a credit note the oldest such money back; the payment is dated the day the
        money moved. One whose day is in a locked period, or with no journal to move
        it, stays in the list for the accountant: posting never fails for it."""
        invoices = invoices.filtered(
            lambda m: m.move_type in ("out_invoice", "out_refund") and asks_payment(m)
        )
        if not invoices:
            return self.browse()
        waiting = self.search(
            [
                ("to_reconcile", "=", True),
                ("payment_id", "=", False),
                ("amount", "!=", 0),
                "|",
                ("subscription_id", "in", invoices.subscription_id.ids),
                "&",
                ("subscription_id", "=", False),
                ("partner_id", "in", invoices.commercial_partner_id.ids),
            ],
            order="event_created, id",
        )
        if not waiting:
            return self.browse()

        def settles(event, invoice):
            if invoice.subscription_id:
                ours = event.subscription_id == invoice.subscription_id
            else:
                ours = (
                    not event.subscription_id
                    and event.partner_id == invoice.commercial_partner_id
                    and event.company_id == invoice.company_id
                )
            if invoice.move_type == "out_invoice":
                kind, amount = event.is_payment, event.amount
            else:  # money back: a refund, a lost dispute
                kind, amount = event.amount < 0, -event.amount
            return (
                ours
                and kind
                and event.currency_id == invoice.currency_id
                and invoice.currency_id.compare_amounts(amount, invoice.amount_residual) == 0
            )

        paid = self.browse()
        for invoice in invoices.sorted(lambda m: (m.invoice_date_due or m.date, m.id)):
            event = (waiting - paid).filtered(lambda e, inv=invoice: settles(e, inv))[:1]
            if not event or not event._register_on(invoice):
                continue
            event._registered_on(invoice)
            paid |= event
            _logger.info(
                "Provider payment %s registered on %s when posted", event.external_id, invoice.name
            )
        return paid

    def _register_on(self, invoice, reference=None, day=None):
        """Register this event's money on ``invoice`` (money in on an invoice, money
        back on a credit note), dated the day it moved (``day``), with the provider's
        ``reference`` (default: the event's id); False, and nothing done, when no
        journal moves money that way or that day is in a locked period."""
        self.ensure_one()
        journal = self._payment_journal(invoice.company_id)
        direction = "outbound" if invoice.move_type == "out_refund" else "inbound"
        if not journal or not journal._get_available_payment_method_lines(direction):
            return False
        day = day or self._event_date()
        if invoice.company_id._get_lock_date_violations(
            day, fiscalyear=True, sale=False, purchase=False, tax=False, hard=True
        ):
            return False
        self._pay_invoice(invoice, journal, abs(self.amount), reference or self.external_id, day)
        return True

    def _registered_on(self, invoice):
        """The payment left *Payments to Reconcile*: it paid ``invoice`` (a refund: its
        credit note)."""
        self.ensure_one()
        # In the office's language, as the rest of the result, whoever posts or registers.
        env = self.with_context(lang=self.env["res.company"]._cs_cron_lang()).env
        if invoice.move_type == "out_refund":
            result = env._(
                "%(result)s — registered on credit note %(invoice)s",
                result=self.result or "",
                invoice=invoice.name,
            )
        else:
            result = env._(
                "%(result)s — registered on %(invoice)s",
                result=self.result or "",
                invoice=invoice.name,
            )
        self.write({"to_reconcile": False, "result": result})

    def _payment_journal(self, company):
        """The billing account's payment journal, else the company's first bank."""
        return self.account_id.journal_id or self.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
        )

    def _pay_invoice(self, invoice, journal, amount, reference, date):
        """Register ``amount`` on ``invoice`` through Odoo's own payment wizard, which
        reconciles it, and link the payment to this event."""
        self.ensure_one()
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "journal_id": journal.id,
                    "payment_date": date,
                    "amount": amount,
                    "communication": reference,
                }
            )
        )
        self.payment_id = wizard._create_payments()[:1]
        return self.payment_id
