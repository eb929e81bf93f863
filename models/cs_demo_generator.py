# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import random
import time
from collections import defaultdict
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from dateutil.relativedelta import relativedelta
from psycopg2.extras import execute_values

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError

from ..services import demo_book
from ..services import mrr as mrr_service
from ..services.providers import kaspi_adapter
from ..services.providers import stripe_adapter
from .cs_billing_account import STRIPE_API_VERSION
from .sale_subscription import OWING

_logger = logging.getLogger(__name__)

_CLOSE_REASONS = {
    "expensive": "subscription_oca.close_reason_expensive",
    "requirement": "subscription_oca.close_reason_requirement",
    "use": "subscription_oca.close_reason_use",
    "other": "subscription_oca.close_reason_other",
}
_CSM_NAMES = [
    "Aigerim Nurlanova",
    "Daniyar Seitkali",
    "Elena Smirnova",
    "Timur Akhmetov",
    "Madina Omarova",
    "Ruslan Ivanov",
]
_BATCH = 5000
_STRIPE_INTERVALS = {"months": "month", "years": "year"}


def _stripe_price(plan, billing):
    return "price_demo_%s_%s" % (plan, billing)


class CsDemoGenerator(models.AbstractModel):
    """Writes a :mod:`services.demo_book` book to the database in bulk.

    Configuration records (currencies, pricelists, plans, CSMs) go through the
    ORM; the book itself (customers, subscriptions, lines, MRR ledger) is
    inserted with multi-row SQL so that 100k customers take seconds per table,
    not one ORM ``create`` per row.
    """

    _name = "cs.demo.generator"
    _description = "Customer Success Demo Data Generator"

    @api.model
    @api.model
    def _demo_generated(self, company):
        return bool(
            self.env["cs.mrr.movement"].search_count(
                [("company_id", "=", company.id), ("source", "=", "demo")], limit=1
            )
        )

    @api.model
    def _demo_data(self, customers, months, seed):
        """The module's demo data (``demo/customer_success_demo.xml``): a book generated
        once. Initialising the module again over a database that has it (``odoo -i``)
        keeps it, where generating would refuse and the database would not load."""
        if self._demo_generated(self.env.company):
            _logger.info("Customer Success demo data is there already: kept as it is.")
            return None
        return self._generate(customers=customers, months=months, seed=seed)

    def _generate(
        self,
        customers=200,
        months=24,
        seed=42,
        today=None,
        invoices=None,
        company=None,
        usage_days=None,
        health_days=30,
    ):
        if not self.env.is_superuser():
            raise UserError(self.env._("Only the superuser can generate demo data."))
        started = time.time()
        company = company or self.env.company
        self = self.with_company(company)
        if self._demo_generated(company):
            raise UserError(
                self.env._("Demo data was already generated for %(company)s.", company=company.name)
            )
        today = fields.Date.to_date(today) or fields.Date.context_today(self)
        book = demo_book.build_book(customers=customers, months=months, today=today, seed=seed)
        if company.currency_id.name not in ("KZT", "USD", "RUB"):
            raise UserError(self.env._("The demo generator needs a company in KZT, USD or RUB."))
        setup = self._demo_setup(book, company)
        partner_ids = self._demo_insert_partners(book, company, setup)
        sub_ids = self._demo_insert_subscriptions(book, company, setup, partner_ids)
        movements = self._demo_insert_movements(book, company, setup, partner_ids, sub_ids)
        self.env.invalidate_all()
        partners = self.env["res.partner"].browse(list(partner_ids.values()))
        self._demo_refresh_totals(partners)
        self.env["res.partner"]._cs_recompute_segments(company)
        if invoices is None:
            invoices = customers <= 2000
        invoice_count = self._demo_invoices(book, company, sub_ids) if invoices else 0
        # The inbox of the last days, applied as the providers' webhooks would be; it
        # pays invoices, so it comes with them.
        billing_events = self._demo_billing_history(book, setup, sub_ids) if invoices else 0
        if usage_days is None:
            usage_days = 90 if customers <= 5000 else 0
        usage_rows = self._demo_usage(book, company, partner_ids, usage_days, seed)
        if usage_days and health_days:
            self._demo_health(partner_ids, book.today, health_days)
        stats = {
            "customers": len(partner_ids),
            "subscriptions": len(sub_ids),
            "movements": movements,
            "invoices": invoice_count,
            "billing_events": billing_events,
            "usage_rows": usage_rows,
            "seconds": round(time.time() - started, 1),
        }
        _logger.info("customer_success demo data: %s", stats)
        return stats

    # ------------------------------------------------------------------
    def _bulk_insert(self, model_name, vals_list, conflict=""):
        """Multi-row INSERT of ``vals_list`` with the model's defaults; returns ids."""
        if not vals_list:
            return []
        model = self.env[model_name]
        columns = sorted({key for vals in vals_list for key in vals})
        stored = [
            name
            for name, field in model._fields.items()
            if field.store
            and field.column_type
            and name not in models.MAGIC_COLUMNS
            and name not in columns
            and not field.compute
            and not field.related
            and not field.company_dependent
            and not field.translate
        ]
        defaults = {
            key: value
            for key, value in model.default_get(stored).items()
            if not isinstance(value, (list, tuple)) and value is not False
        }
        now = fields.Datetime.now()
        base = {
            **defaults,
            "create_uid": self.env.uid,
            "write_uid": self.env.uid,
            "create_date": now,
            "write_date": now,
        }
        columns = sorted(set(columns) | set(base))
        ids = []
        for start in range(0, len(vals_list), _BATCH):
            rows = [
                tuple({**base, **vals}.get(col) for col in columns)
                for vals in vals_list[start : start + _BATCH]
            ]
            query = 'INSERT INTO "%s" (%s) VALUES %%s %s RETURNING id' % (
                model._table,
                ", ".join('"%s"' % c for c in columns),
                conflict,
            )
            ids += [
                r[0]
                for r in execute_values(self.env.cr._obj, query, rows, page_size=_BATCH, fetch=True)
            ]
        return ids

    def _demo_setup(self, book, company):
        env = self.env
        currencies = {}
        for code in ("KZT", "USD", "RUB"):
            currency = (
                env["res.currency"]
                .with_context(active_test=False)
                .search([("name", "=", code)], limit=1)
            )
            currency.active = True
            currencies[code] = currency
        company_code = company.currency_id.name
        rates = env["res.currency.rate"]
        for day in book.rate_dates():
            for code in ("KZT", "USD", "RUB"):
                if code == company_code:
                    continue
                rate = book.usd_rate(code, day) / book.usd_rate(company_code, day)
                existing = rates.search(
                    [
                        ("currency_id", "=", currencies[code].id),
                        ("company_id", "=", company.id),
                        ("name", "=", day),
                    ]
                )
                if existing:
                    existing.rate = rate
                else:
                    rates.create(
                        {
                            "currency_id": currencies[code].id,
                            "company_id": company.id,
                            "name": day,
                            "rate": rate,
                        }
                    )
        pricelists = {}
        for code in ("KZT", "RUB", "USD"):
            pricelists[code] = env["product.pricelist"].search(
                [
                    ("currency_id", "=", currencies[code].id),
                    ("name", "=", "SaaS %s" % code),
                    ("company_id", "in", (company.id, False)),
                ],
                limit=1,
            ) or env["product.pricelist"].create(
                {
                    "name": "SaaS %s" % code,
                    "currency_id": currencies[code].id,
                    "company_id": company.id,
                }
            )
        products = {}
        for key, plan in list(demo_book.PLANS.items()) + [("addon", demo_book.ADDON)]:
            name = "%s plan" % plan["name"] if key != "addon" else plan["name"]
            products[key] = env["product.product"].search(
                [("name", "=", name), ("company_id", "in", (company.id, False))], limit=1
            ) or env["product.product"].create(
                {
                    "name": name,
                    "type": "service",
                    "list_price": plan["USD"],
                    "subscribable": True,
                    "taxes_id": [(5, 0, 0)],
                    "company_id": company.id,
                }
            )
        templates = {}
        # Plan names are plain text (not translated by Odoo): in the office's language,
        # as a company would name its own plans.
        office = env(context=dict(env.context, lang=env["res.company"]._cs_cron_lang()))
        billing_names = {
            "monthly": office._("monthly"),
            "quarterly": office._("quarterly"),
            "annual": office._("annual"),
        }
        for key, plan in list(demo_book.PLANS.items()) + [("addon", demo_book.ADDON)]:
            for billing, (rule, interval, _factor) in demo_book.BILLINGS.items():
                if key == "addon" and billing != "monthly":
                    continue
                name = "%s (%s)" % (plan["name"], billing_names[billing])
                templates[key, billing] = env["sale.subscription.template"].search(
                    [("name", "=", name)], limit=1
                ) or env["sale.subscription.template"].create(
                    {
                        "name": name,
                        "code": "%s-%s" % (key[:3].upper(), billing[0].upper()),
                        "recurring_rule_type": rule,
                        "recurring_interval": interval,
                        "invoicing_mode": "draft",
                        "cs_tier": plan.get("tier", 0),
                        "cs_seats": plan.get("seats", 0),
                        # The Stripe price billed as this plan (Configuration → Plans).
                        "cs_provider_plan_refs": _stripe_price(key, billing),
                    }
                )
        csm_group = env.ref("customer_success.group_cs_user")
        csms = []
        for index, name in enumerate(_CSM_NAMES[:4]):
            login = "csm%d@demo.example" % (index + 1)
            user = env["res.users"].with_context(active_test=False).search(
                [("login", "=", login)], limit=1
            ) or env["res.users"].with_context(no_reset_password=True).create(
                {
                    "name": name,
                    "login": login,
                    "email": login,
                    "company_id": company.id,
                    "company_ids": [(6, 0, company.ids)],
                    "groups_id": [(4, csm_group.id)],
                    # The office's language: their to-dos from billing events read in it.
                    "lang": office.lang,
                }
            )
            csms.append(user.id)
        accounts = {}
        for provider, name, code in (
            ("stripe", "Stripe USD", "USD"),
            ("yookassa", "ЮKassa RUB", "RUB"),
            ("kaspi", "Kaspi Pay", "KZT"),
            # Ready to configure: the demo book bills no subscription through them.
            ("cloudpayments", "CloudPayments KZT", "KZT"),
            ("robokassa", "Robokassa RUB", "RUB"),
        ):
            accounts[provider] = env["cs.billing.account"].search(
                [("provider", "=", provider), ("company_id", "=", company.id)], limit=1
            ) or env["cs.billing.account"].create(
                {
                    "name": name,
                    "provider": provider,
                    "company_id": company.id,
                    "currency_id": currencies[code].id,
                    # Failed events reach a person, not OdooBot who runs the generator.
                    "user_id": (
                        env.ref("base.user_admin", raise_if_not_found=False) or env["res.users"]
                    ).id,
                }
            )
        stages = {
            stage_type: env["sale.subscription.stage"]
            .search([("type", "=", stage_type)], order="sequence", limit=1)
            .id
            for stage_type in ("in_progress", "post")
        }
        countries = {code: env.ref("base.%s" % code.lower()).id for code in ("KZ", "RU")}
        if not company.cs_segment_mid_arr and not company.cs_segment_enterprise_arr:
            # ARR thresholds of a typical Kazakh SaaS book, in the company currency.
            usd = book.usd_rate(company.currency_id.name, book.today)
            company.write(
                {
                    "cs_segment_mid_arr": round(6000 * usd, -3),
                    "cs_segment_enterprise_arr": round(30000 * usd, -3),
                }
            )
        env.flush_all()
        return {
            "currencies": currencies,
            "pricelists": pricelists,
            "products": products,
            "templates": templates,
            "csms": csms,
            "accounts": accounts,
            "stages": stages,
            "countries": countries,
        }

    def _demo_insert_partners(self, book, company, setup):
        ru = self.env["res.lang"]._lang_get("ru_RU")
        lang = "ru_RU" if ru and ru.active else self.env.lang or "en_US"
        vals_list = [
            {
                "name": customer.name,
                "complete_name": customer.name,
                "type": "contact",
                "active": True,
                "is_company": True,
                "company_id": company.id,
                "lang": lang,
                "email": customer.email,
                "email_normalized": customer.email,
                "city": customer.city,
                "country_id": setup["countries"][customer.country],
                "customer_rank": 1,
                "partner_share": True,
                "cs_team_size": customer.team_size,
                "csm_id": setup["csms"][customer.csm] if setup["csms"] else None,
            }
            for customer in book.customers
        ]
        ids = self._bulk_insert("res.partner", vals_list)
        self.env.cr.execute(
            "UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [ids]
        )
        return {customer.key: pid for customer, pid in zip(book.customers, ids, strict=True)}

    @staticmethod
    def _demo_unpaid_since(sub, today):
        """The day a provider-billed demo subscription started to owe: its period's start,
        the one before when this one began in the last days, within the last 40 days."""
        since = sub.period_start()
        if since > today - timedelta(days=3):
            rule, interval, _factor = demo_book.BILLINGS[sub.billing]
            since -= relativedelta(**{rule: interval})
        return max(since, today - timedelta(days=40))

    def _demo_insert_subscriptions(self, book, company, setup, partner_ids):
        today = book.today
        close_reasons = {key: self.env.ref(xmlid).id for key, xmlid in _CLOSE_REASONS.items()}
        currency_ids = {code: cur.id for code, cur in setup["currencies"].items()}
        latest_rate = book.usd_rate(company.currency_id.name, today)
        sub_vals, line_vals = [], []
        csm_of = {customer.key: customer.csm for customer in book.customers}
        for sub in book.subscriptions:
            running = not sub.end
            template = setup["templates"][sub.plan, sub.billing]
            mrr = sub.mrr() if running and not sub.is_trial else 0.0
            rate = latest_rate / book.usd_rate(sub.currency, today)
            period = sub.period_amount()
            rule, interval, _factor = demo_book.BILLINGS[sub.billing]
            renewal = sub.next_invoice if running else sub.end
            if running and sub.billing == "annual":
                renewal = sub.next_invoice
            sub_vals.append(
                {
                    "code": "DEMO%06d" % sub.key,
                    "name": "%s/DEMO%06d" % (template.code, sub.key),
                    "company_id": company.id,
                    "partner_id": partner_ids[sub.customer],
                    "commercial_partner_id": partner_ids[sub.customer],
                    "template_id": template.id,
                    "pricelist_id": setup["pricelists"][sub.currency].id,
                    "currency_id": currency_ids[sub.currency],
                    "stage_id": setup["stages"]["in_progress" if running else "post"],
                    "in_progress": running,
                    "recurring_rule_boundary": True,
                    "date_start": sub.start,
                    "recurring_next_date": sub.next_invoice if running else None,
                    # The account's CSM manages its subscriptions, not whoever generated them.
                    "user_id": setup["csms"][csm_of[sub.customer]]
                    if setup["csms"]
                    else self.env.uid,
                    "active": True,
                    "recurring_total": period,
                    "amount_tax": 0.0,
                    "amount_total": period,
                    "mrr": mrr,
                    "arr": mrr * 12,
                    "mrr_company": company.currency_id.round(mrr * rate),
                    "cs_ledger_mrr": mrr,
                    "renewal_date": renewal,
                    "renewal_type": sub.renewal_type,
                    "payment_status": sub.payment_status,
                    "amount_due": sub.amount_due,
                    # owing since a payment of the last weeks (Odoo-billed ones: from
                    # their invoices, below)
                    "cs_unpaid_since": self._demo_unpaid_since(sub, today)
                    if running and sub.provider and sub.payment_status in OWING
                    else None,
                    "next_payment_date": sub.next_invoice if running else None,
                    "seats": sub.seats,
                    "usage_limit": sub.seats * 1000,
                    "billing_account_id": setup["accounts"][sub.provider].id
                    if sub.provider
                    else None,
                    "external_customer_ref": sub.external_customer_ref,
                    "external_subscription_ref": sub.external_subscription_ref,
                    "cs_is_trial": sub.is_trial,
                    "cs_trial_end_date": sub.trial_end,
                    "cs_delinquent": False,
                    "close_reason_id": close_reasons[sub.close_reason]
                    if sub.close_reason
                    else None,
                }
            )
        sub_ids = self._bulk_insert("sale.subscription", sub_vals)
        by_key = {sub.key: sid for sub, sid in zip(book.subscriptions, sub_ids, strict=True)}
        for sub in book.subscriptions:
            product = setup["products"][sub.plan]
            period = sub.period_amount()
            line_vals.append(
                {
                    "sale_subscription_id": by_key[sub.key],
                    "product_id": product.id,
                    "name": product.name,
                    "product_uom_qty": sub.quantity,
                    "price_unit": sub.unit_price(),
                    "discount": sub.discount,
                    "price_subtotal": period,
                    "price_total": period,
                    "amount_tax_line_amount": 0.0,
                    "currency_id": currency_ids[sub.currency],
                    "company_id": company.id,
                }
            )
        self._bulk_insert("sale.subscription.line", line_vals)
        return by_key

    def _demo_insert_movements(self, book, company, setup, partner_ids, sub_ids):
        """Replay the book's MRR changes through the ledger's classification."""
        by_key = {sub.key: sub for sub in book.subscriptions}
        company_code = company.currency_id.name
        state = defaultdict(dict)
        paid_before = set()
        vals_list = []
        first_paid = {}
        for day, key, new in book.changes:
            sub = by_key[key]
            ledger = state[sub.customer]
            rate = book.usd_rate(company_code, day)

            def to_company(amount, currency, rate=rate, day=day):
                return amount * rate / book.usd_rate(currency, day)

            before = sum(to_company(v, by_key[k].currency) for k, v in ledger.items())
            old = ledger.get(key, 0.0)
            ledger[key] = new
            after = sum(to_company(v, by_key[k].currency) for k, v in ledger.items())
            movement_type = mrr_service.classify(before, after, sub.customer in paid_before)
            if not movement_type:
                continue
            if movement_type == mrr_service.NEW:
                first_paid.setdefault(sub.customer, day)
            paid_before.add(sub.customer)
            vals_list.append(
                {
                    "date": day,
                    "partner_id": partner_ids[sub.customer],
                    "subscription_id": sub_ids[key],
                    "company_id": company.id,
                    "movement_type": movement_type,
                    "churn_kind": "voluntary" if movement_type == mrr_service.CHURN else None,
                    "amount": company.currency_id.round(to_company(new - old, sub.currency)),
                    "amount_currency": round(new - old, 2),
                    "currency_id": setup["currencies"][sub.currency].id,
                    "company_currency_id": company.currency_id.id,
                    "mrr_before": company.currency_id.round(before),
                    "mrr_after": company.currency_id.round(after),
                    "source": "demo",
                }
            )
        self._bulk_insert("cs.mrr.movement", vals_list)
        if first_paid:
            execute_values(
                self.env.cr._obj,
                "UPDATE res_partner p SET customer_since = v.day FROM (VALUES %s) AS v(id, day) "
                "WHERE p.id = v.id",
                [(partner_ids[c], d) for c, d in first_paid.items()],
            )
        return len(vals_list)

    def _demo_usage(self, book, company, partner_ids, days, seed):
        """Daily usage of the running customers over the last ``days`` days, in bulk.

        Each customer gets a deterministic profile (engaged, steady, declining or
        drifting away) that drives logins, key actions, active users against its
        seats, tickets, an occasional data-export request and its NPS. Profiles are
        drawn in Python (one row per customer); the days are generated by SQL with
        a seeded hash as noise, so 100k customers x 90 days is a few statements.
        """
        if not days:
            return 0
        rng = random.Random(seed * 7919)
        running = {}
        for sub in book.subscriptions:
            if not sub.end and not sub.is_trial:
                running[sub.customer] = running.get(sub.customer, 0) + sub.seats
        profiles = ["engaged", "steady", "steady", "declining", "drifting"]
        trend = {"engaged": 0.2, "steady": 0.0, "declining": -0.6, "drifting": -0.9}
        nps_range = {"engaged": (8, 10), "steady": (6, 10), "declining": (3, 8), "drifting": (0, 6)}
        profile_rows, extra_rows, nps_rows = [], [], []
        for customer_key, seats in sorted(running.items()):
            pid = partner_ids[customer_key]
            profile = profiles[rng.randrange(len(profiles))]
            base = max(seats, 1) * rng.uniform(0.4, 1.1)
            ticket_rate = 0.06 if trend[profile] < 0 else 0.03
            profile_rows.append((pid, seats, base, trend[profile], ticket_rate))
            if profile == "drifting" and rng.random() < 0.3:
                day = book.today - timedelta(days=rng.randint(1, min(days, 20)))
                extra_rows.append((pid, "export_request", day))
            if rng.random() < 0.45:
                nps_rows.append(
                    (
                        pid,
                        rng.randint(*nps_range[profile]),
                        book.today - timedelta(days=rng.randint(5, 200)),
                    )
                )
        cr = self.env.cr
        cr.execute(
            "CREATE TEMP TABLE cs_demo_profile (pid int PRIMARY KEY, seats int, base float, "
            "trend float, ticket_rate float) ON COMMIT DROP"
        )
        execute_values(
            cr._obj, "INSERT INTO cs_demo_profile VALUES %s", profile_rows, page_size=_BATCH
        )
        cr.execute(
            "CREATE TEMP TABLE cs_demo_extra (pid int, metric varchar, date date) ON COMMIT DROP"
        )
        if extra_rows:
            execute_values(cr._obj, "INSERT INTO cs_demo_extra VALUES %s", extra_rows)

        # noise(k): a uniform [0, 1) draw per customer, day and purpose k, from the seed.
        def noise(k):
            return (
                f"((hashint8extended(p.pid::bigint * 1000 + o.n, {int(seed) * 10 + k})"
                " & 1048575)::float8 / 1048576.0)"
            )

        params = {
            "days": days,
            "today": book.today,
            "company": company.id,
            "uid": self.env.uid,
            "now": fields.Datetime.now(),
        }
        days_sql = f"""
            SELECT p.pid, %(today)s::date - o.n AS date,
                   LEAST(GREATEST(floor(
                       p.base * (1.0 + p.trend * (1.0 - o.n::float8 / %(days)s))
                       * CASE WHEN extract(isodow FROM %(today)s::date - o.n) >= 6
                              THEN 0.25 ELSE 1 END
                       * (0.7 + 0.3 * {noise(0)})), 0), p.seats) AS active,
                   {noise(1)} AS r1, {noise(2)} AS r2, {noise(3)} AS r3, {noise(4)} AS r4,
                   p.ticket_rate
              FROM cs_demo_profile p CROSS JOIN generate_series(1, %(days)s) AS o(n)
        """
        columns = (
            "partner_id, company_id, metric, date, value, event_count, "
            "create_uid, create_date, write_uid, write_date"
        )
        # Gauges and counters: one row per customer, day and metric, straight in.
        cr.execute(
            f"""
            INSERT INTO cs_usage_daily ({columns})
            SELECT d.pid, %(company)s, v.metric, d.date, v.value, 1,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM ({days_sql}) AS d
        CROSS JOIN LATERAL (VALUES ('active_users', d.active),
                                   ('login', floor(d.active * (1 + 2 * d.r1))),
                                   ('key_action', floor(d.active * (2 + 4 * d.r2))))
                   AS v(metric, value)
            ON CONFLICT (partner_id, date, metric) DO NOTHING
            """,
            params,
        )
        inserted = cr.rowcount
        # Tickets (a closing lands two days after its opening) and export requests.
        cr.execute(
            f"""
            WITH tickets AS (
                SELECT d.pid, d.date, d.r4 FROM ({days_sql}) AS d WHERE d.r3 < d.ticket_rate
            )
            INSERT INTO cs_usage_daily ({columns})
            SELECT pid, %(company)s, metric, date, count(*), count(*),
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (
                    SELECT t.pid, 'ticket_opened' AS metric, t.date FROM tickets t
                 UNION ALL
                    SELECT t.pid, 'ticket_closed', LEAST(t.date + 2, %(today)s::date)
                      FROM tickets t WHERE t.r4 < 0.7
                 UNION ALL
                    SELECT e.pid, e.metric, e.date FROM cs_demo_extra e
                   ) AS u
          GROUP BY pid, metric, date
            ON CONFLICT (partner_id, date, metric) DO NOTHING
            """,
            params,
        )
        inserted += cr.rowcount
        cr.execute("DROP TABLE cs_demo_extra, cs_demo_profile")
        if nps_rows:
            execute_values(
                cr._obj,
                "UPDATE res_partner p SET cs_nps_score = v.score, cs_nps_date = v.day "
                "FROM (VALUES %s) AS v(id, score, day) WHERE p.id = v.id",
                nps_rows,
                page_size=_BATCH,
            )
        self.env.invalidate_all()
        return inserted

    def _demo_health(self, partner_ids, today, days):
        """Score the book for each of the last ``days`` days so that cards show trends."""
        Model = self.env["cs.health.model"]
        ids = sorted(partner_ids.values())
        self.env["res.partner"]._cs_refresh_signals(ids, today=today)
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            for start in range(0, len(ids), 2000):
                Model._compute_health(ids[start : start + 2000], day)

    def _demo_refresh_totals(self, partners):
        """Customer totals, payment status and renewal date, in one statement."""
        self.env["res.partner"]._cs_refresh_totals_sql(partners.ids)

    def _demo_billing_history(self, book, setup, sub_ids):
        """The billing notifications of the last days, through the inbox.

        Stripe events and a Kaspi payment, shaped as the providers send them, are stored
        and applied by the same code as webhooks (Billing → Events): two payments that
        pay and reconcile their invoices, one with no invoice to pay (Payments to
        Reconcile), an upgrade and a downgrade of plan, a pause, a failed payment, a payment of
        a subscription Odoo does not know (Unmatched, to link) and an event type the
        CRM does not use. Returns the number of events.
        """
        # Written in the office's language, as the inbox cron writes them.
        lang = self.env["res.company"]._cs_cron_lang()
        Event = self.env["cs.billing.event"].with_context(lang=lang)
        Sub = self.env["sale.subscription"]
        stripe = setup["accounts"]["stripe"]
        today = datetime.combine(book.today, datetime.min.time(), tzinfo=timezone.utc)

        def at(days_ago, hour):
            return int((today - timedelta(days=days_ago, hours=-hour)).timestamp())

        def plain(sub, provider, status="paid"):
            return (
                sub.provider == provider
                and not sub.end
                and not sub.is_trial
                and not sub.discount
                and sub.payment_status == status
            )

        stripe_paid = [s for s in book.subscriptions if plain(s, "stripe")]
        upgrade = next((s for s in stripe_paid if s.plan == "start"), None)
        downgrade = next((s for s in stripe_paid if s.plan == "pro"), None)
        payers = [s for s in stripe_paid if s not in (upgrade, downgrade)][:3]
        overdue = next((s for s in book.subscriptions if plain(s, "stripe", "overdue")), None)
        # Paused at Stripe (a pause asked for, by a paying customer or one who cannot
        # pay): no MRR until it resumes.
        used = [upgrade, downgrade, overdue, *payers]
        paused = next(
            (
                s
                for s in sorted(
                    (s for s in book.subscriptions if plain(s, "stripe", s.payment_status)),
                    key=lambda s: s.payment_status != "paid",
                )
                if s not in used
                and s.payment_status in ("paid", "overdue")
                and s.plan in demo_book.PLANS  # a plan, not a seat add-on
            ),
            None,
        )
        kaspi = next((s for s in book.subscriptions if plain(s, "kaspi")), None)

        def epoch(day):
            return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())

        def invoice(sub, key, created, status="paid", attempts=1):
            start, end = sub.period_start(), sub.next_invoice
            cents = round(sub.period_amount() * 100)
            paid = cents if status == "paid" else 0
            return {
                "id": "in_demo%06d_%d" % (sub.key, key),
                "object": "invoice",
                "number": "DEMO-%06d-%d" % (sub.key, key),
                "created": created,
                "customer": sub.external_customer_ref,
                "currency": sub.currency.lower(),
                "collection_method": "charge_automatically",
                "amount_due": cents,
                "amount_paid": paid,
                "amount_remaining": cents - paid,
                "status": status,
                "attempt_count": attempts,
                "next_payment_attempt": created + 3 * 86400 if status != "paid" else None,
                "metadata": {},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": sub.external_subscription_ref,
                        "metadata": {},
                    },
                },
                "lines": {
                    "object": "list",
                    "data": [
                        {
                            "id": "il_demo%06d_%d" % (sub.key, key),
                            "period": {"start": epoch(start), "end": epoch(end)},
                        }
                    ],
                },
            }

        def subscription(sub, plan):
            rule, interval, factor = demo_book.BILLINGS[sub.billing]
            price = demo_book.PLANS[plan][sub.currency] * factor
            return {
                "id": sub.external_subscription_ref,
                "object": "subscription",
                "customer": sub.external_customer_ref,
                "currency": sub.currency.lower(),
                "status": "active",
                "cancel_at_period_end": False,
                "collection_method": "charge_automatically",
                "discounts": [],
                "metadata": {},
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_demo%06d" % sub.key,
                            "object": "subscription_item",
                            "quantity": int(sub.quantity),
                            "discounts": [],
                            "current_period_end": epoch(sub.next_invoice),
                            "price": {
                                "id": _stripe_price(plan, sub.billing),
                                "object": "price",
                                "currency": sub.currency.lower(),
                                "unit_amount": round(price * 100),
                                "recurring": {
                                    "interval": _STRIPE_INTERVALS[rule],
                                    "interval_count": interval,
                                    "usage_type": "licensed",
                                },
                            },
                        }
                    ],
                },
            }

        events = []  # (event type, object, created, previous attributes)
        for index, sub in enumerate(payers):
            created = at(7 - 2 * index, 9 + index)
            events.append(("invoice.paid", invoice(sub, 1, created), created, None))
        # A plan change: the new state and the items it had before.
        for sub, old_plan, new_plan, created in (
            (upgrade, "start", "pro", at(3, 16)),
            (downgrade, "pro", "start", at(2, 15)),
        ):
            if sub:
                previous = {"items": subscription(sub, old_plan)["items"]}
                state = subscription(sub, new_plan)
                events.append(("customer.subscription.updated", state, created, previous))
        if paused:
            state = dict(subscription(paused, paused.plan), status="paused")
            created = at(2, 11)
            events.append(("customer.subscription.paused", state, created, {"status": "active"}))
        if overdue:
            # The CSM gave the customer whose card failed a month's grace: collection
            # paused, the service goes on; Stripe still retries the invoice of before.
            created = at(4, 12)
            state = dict(
                subscription(overdue, overdue.plan),
                status="past_due",
                pause_collection={"behavior": "keep_as_draft", "resumes_at": created + 30 * 86400},
            )
            events.append(
                ("customer.subscription.updated", state, created, {"pause_collection": None})
            )
            created = at(1, 8)
            events.append(
                (
                    "invoice.payment_failed",
                    invoice(overdue, 1, created, status="open", attempts=2),
                    created,
                    None,
                )
            )
        if payers:
            stranger = demo_book.DemoSubscription(
                key=999999,
                customer=999999,
                plan="pro",
                billing="monthly",
                currency="USD",
                start=book.today,
                next_invoice=book.today + relativedelta(months=1),
                external_customer_ref="cus_demo_unknown",
                external_subscription_ref="sub_demo_unknown",
            )
            created = at(1, 13)
            events.append(("invoice.paid", invoice(stranger, 1, created), created, None))
            created = at(1, 14)
            customer = {"id": "cus_demo_new", "object": "customer", "email": "new@demo.example"}
            events.append(("customer.created", customer, created, None))
        # Odoo's invoices of the first two payments and of the Kaspi one, which they pay.
        for sub in payers[:2] + [kaspi] * bool(kaspi):
            self._demo_post_invoice(Sub.browse(sub_ids[sub.key]), sub.period_start())
        if kaspi:
            events.append(("pay", kaspi, at(1, 10), None))
        # In the order they arrive, as the inbox lists them.
        for kind, obj, created, previous in sorted(events, key=lambda e: e[2]):
            if kind == "pay":
                self._demo_kaspi_payment(setup["accounts"]["kaspi"], sub_ids, obj, created)
                continue
            data = {"object": obj}
            if previous:
                data["previous_attributes"] = previous
            body = json.dumps(
                {
                    "id": "evt_demo_%s_%d" % (obj["id"], created),
                    "object": "event",
                    "api_version": stripe.stripe_api_version or STRIPE_API_VERSION,
                    "created": created,
                    "livemode": False,
                    "type": kind,
                    "data": data,
                }
            )
            event = stripe_adapter.parse(body)
            if kind in stripe_adapter.HANDLED:
                Event._store(stripe, event)
            else:
                Event._store_ignored(
                    stripe, event, lambda env: env._("Event type not used by Customer Success.")
                )
        while Event._process_due():
            pass
        return len(events)

    def _demo_kaspi_payment(self, account, sub_ids, sub, created):
        """A Kaspi Платежи ``pay`` request for one period of ``sub``, answered as Kaspi's."""
        paid_at = datetime.fromtimestamp(created, kaspi_adapter.KASPI_TZ)  # Kaspi's clock
        self.env["cs.billing.event"]._kaspi_handle(
            account,
            {
                "command": "pay",
                "txn_id": "%d" % (7700000000 + sub.key),
                "account": self.env["sale.subscription"].browse(sub_ids[sub.key]).code,
                "sum": "%.2f" % sub.period_amount(),
                "txn_date": paid_at.strftime("%Y%m%d%H%M%S"),
            },
        )

    def _demo_post_invoice(self, subscription, start):
        """The posted invoice of the period of ``subscription`` from ``start``, due 10
        days after."""
        invoice = subscription.create_invoice()
        invoice.write(
            {
                "invoice_date": start,
                "invoice_date_due": start + timedelta(days=10),
                "invoice_payment_term_id": False,
            }
        )
        invoice.action_post()
        return invoice

    def _demo_invoices(self, book, company, sub_ids):
        """Last invoice of each running subscription not run by a provider.

        Paid ones get a registered, reconciled payment; overdue ones stay open
        past their due date. The payment status then follows from the invoices.
        """
        chart = self.env["account.chart.template"]._guess_chart_template(company.country_id)
        if not company.chart_template and chart:
            self.env["account.chart.template"].try_loading(
                chart, company=company, install_demo=False
            )
        journal = self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
        )
        if not journal:
            _logger.warning("No sales journal: demo invoices skipped")
            return 0
        Sub = self.env["sale.subscription"]
        count = 0
        for sub in book.subscriptions:
            if sub.end or sub.is_trial or sub.provider:
                continue
            invoice_date = sub.period_start()
            invoice = self._demo_post_invoice(Sub.browse(sub_ids[sub.key]), invoice_date)
            count += 1
            if sub.payment_status == "paid":
                self.env["account.payment.register"].with_context(
                    active_model="account.move", active_ids=invoice.ids
                ).create(
                    {"payment_date": min(invoice_date + timedelta(days=3), book.today)}
                )._create_payments()
        running = Sub.search(
            [
                ("company_id", "=", company.id),
                ("stage_id.type", "=", "in_progress"),
                ("billing_account_id", "=", False),
            ]
        )
        running._cs_refresh_payment_status(today=book.today)
        self._demo_refresh_totals(running.commercial_partner_id)
        return count
