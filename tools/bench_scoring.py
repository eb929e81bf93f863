# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Benchmark of the daily health recompute (SPEC D5) on a large book.

Builds a database with the addon, a generated book of ``--customers`` customers
and 90 days of daily usage aggregates from the demo generator, plus two earlier
snapshots per customer (30 and 7 days ago) so that trends are looked up as in a
real daily run. Then, in a fresh process, times the daily cron
(``cs.health.model._cron_compute_health``: every customer scored, one snapshot
each, customer fields updated, committed per batch) and, in the same run, one
set-based SQL statement computing the same weighted score from the same data.
The last line printed is one JSON object:
customers, snapshots, seconds, max_rss_mb, sql_baseline_seconds, ratio_to_sql.

    python3 tools/bench_scoring.py [--customers 100000] [--reuse-db]
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench_common import fresh_database

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"
DB = "cs_bench_scoring"
USAGE_DAYS = 90

# The metric expressions of cs.health.model._values_of, over the columns of its
# _metric_query: the baseline scores exactly what the cron scores, from the same
# aggregation, in SQL instead of Python.
METRIC_SQL = {
    "logins_30d": "COALESCE(m.logins, 0)",
    "activity_change": (
        "CASE WHEN m.actions_before > 0"
        " THEN (COALESCE(m.actions_now, 0) - m.actions_before) / m.actions_before * 100"
        " WHEN m.actions_now > 0 THEN 100 END"
    ),
    "seat_utilization": (
        "CASE WHEN m.seats > 0 THEN COALESCE(m.active_users, 0) / m.seats * 100 END"
    ),
    "open_tickets": "GREATEST(COALESCE(m.opened, 0) - COALESCE(m.closed, 0), 0)",
    "critical_tickets_30d": "COALESCE(m.critical, 0)",
    "nps": "CASE WHEN m.cs_nps_date > DATE '{d365}' THEN m.cs_nps_score END",
    "overdue_days": "COALESCE(m.overdue_days, 0)",
    "days_silent": "m.cs_days_silent",
    "sentiment": (
        "CASE m.cs_sentiment WHEN 'green' THEN 100 WHEN 'yellow' THEN 50 WHEN 'red' THEN 0 END"
    ),
}


def baseline_sql(definition, metric_query, today):
    """One statement: the cron's metric aggregation -> rule points -> weighted score."""
    from odoo.tools import SQL

    d365 = (today - timedelta(days=365)).isoformat()
    points, weights = [], []
    for i, measure in enumerate(definition):
        value = METRIC_SQL[measure["metric"]].format(d365=d365)
        cases = []
        for low, high, pts in measure["rules"]:
            cond = " AND ".join(
                part
                for part in (
                    f"v.m{i} >= {low!r}" if low is not None else "",
                    f"v.m{i} < {high!r}" if high is not None else "",
                )
                if part
            )
            cases.append(f"WHEN {cond or 'true'} THEN {float(pts)!r}")
        points.append((f"{value} AS m{i}", f"CASE {' '.join(cases)} END AS p{i}"))
        weights.append(float(measure["weight"]))
    metrics = ", ".join(p[0] for p in points)
    rule_points = ", ".join(p[1] for p in points)
    weight_sum = " + ".join(
        f"CASE WHEN p{i} IS NOT NULL THEN {w!r} ELSE 0 END" for i, w in enumerate(weights)
    )
    weighted = " + ".join(f"COALESCE(p{i} * {w!r}, 0)" for i, w in enumerate(weights))
    return SQL(
        f"""
        SELECT pid, round((({weighted}) / NULLIF({weight_sum}, 0))::numeric, 1) AS score
          FROM (SELECT v.pid, {rule_points}
                  FROM (SELECT m.pid, {metrics} FROM (%s) AS m) AS v) AS pts
        """,
        metric_query,
    )


def peak_rss_mb():
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited
    from the parent across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def odoo_env(cr):
    from odoo import SUPERUSER_ID
    from odoo import api

    return api.Environment(cr, SUPERUSER_ID, {})


def build(db, customers):
    """A fresh database: addon, book, 90 days of usage, two earlier snapshots each."""
    from odoo import fields

    registry = fresh_database(db)
    with registry.cursor() as cr:
        env = odoo_env(cr)
        # Bulk load as pg_restore does: secondary indexes and foreign keys of the
        # usage table are set aside during the load and rebuilt after it.
        cr.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'cs_usage_daily'::regclass AND contype = 'f'"
        )
        foreign_keys = cr.fetchall()
        cr.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = 'cs_usage_daily' AND i.indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'cs_usage_daily'::regclass)"
        )
        indexes = cr.fetchall()
        for name, _definition in foreign_keys:
            cr.execute(f'ALTER TABLE cs_usage_daily DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cr.execute(f'DROP INDEX "{name}"')
        started = time.time()
        stats = env["cs.demo.generator"]._generate(
            customers=customers, seed=3, invoices=False, usage_days=USAGE_DAYS, health_days=0
        )
        for _name, definition in indexes:
            cr.execute(definition)
        for name, definition in foreign_keys:
            cr.execute(f'ALTER TABLE cs_usage_daily ADD CONSTRAINT "{name}" {definition}')
        today = fields.Date.context_today(env["cs.health.model"])
        # Two earlier snapshots per customer, as a daily run finds them.
        cr.execute(
            """
            INSERT INTO cs_health_snapshot (partner_id, date, score, zone, model_version,
                   company_id, create_uid, create_date, write_uid, write_date)
            SELECT p.id, %(today)s::date - back, s.score,
                   CASE WHEN s.score >= 70 THEN 'green' WHEN s.score >= 40 THEN 'yellow'
                        ELSE 'red' END, 1, p.company_id, 1, now(), 1, now()
              FROM res_partner p
        CROSS JOIN unnest(ARRAY[30, 7]) AS back
        CROSS JOIN LATERAL (SELECT (hashint8extended(p.id::bigint * 100 + back, 7)
                                    & 1023) %% 101 AS score) s
             WHERE p.cs_is_account AND p.active
            """,
            {"today": today},
        )
        stats["build_seconds"] = round(time.time() - started, 1)
    print(json.dumps({"built": stats}), flush=True)


def measure(db):
    """Runs in a fresh process: the cron, then the SQL baseline, on the same data."""
    import odoo
    from odoo import fields
    from odoo.tools import SQL

    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = odoo_env(cr)
        Model = env["cs.health.model"]
        today = fields.Date.context_today(Model)
        cr.execute("DELETE FROM cs_health_snapshot WHERE date = %s", [today])
        cr.execute("UPDATE res_partner SET health_score = NULL WHERE health_score IS NOT NULL")
        cr.commit()
    # As autovacuum leaves the tables between two nightly runs (after a build, or
    # after an earlier measurement on the same database).
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute("VACUUM (ANALYZE)")
    with registry.cursor() as cr:
        env = odoo_env(cr)
        Model = env["cs.health.model"]
        cr.execute("SELECT count(*) FROM res_partner WHERE cs_is_account AND active")
        customers = cr.fetchone()[0]
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        Model._cron_compute_health(today=today)
        seconds = time.perf_counter() - started
        max_rss_mb = peak_rss_mb()
        cr.execute("SELECT count(*) FROM cs_health_snapshot WHERE date = %s", [today])
        snapshots = cr.fetchone()[0]

        model = Model.search([("segment", "=", False)], limit=1)
        accounts = SQL("(SELECT id AS pid FROM res_partner WHERE cs_is_account AND active) AS p")
        query = baseline_sql(
            model._definition(), Model._metric_query(today, accounts=accounts), today
        )
        # The same settings for its hash aggregation as the cron's (_WORK_MEM, no JIT).
        cr.execute("SET LOCAL work_mem = '256MB'")
        cr.execute("SET LOCAL jit = off")
        started = time.perf_counter()
        cr.execute(query)
        rows = cr.fetchall()
        sql_seconds = time.perf_counter() - started
        # The baseline must agree with the cron wherever no override applies.
        baseline = dict(rows)
        cr.execute(
            "SELECT partner_id, score FROM cs_health_snapshot WHERE date = %s "
            "AND model_id IS NOT NULL",
            [today],
        )
        mismatches = sum(
            1
            for pid, score in cr.fetchall()
            if baseline.get(pid) is None or abs(float(baseline[pid]) - score) > 0.11
        )
    result = {
        "customers": customers,
        "snapshots": snapshots,
        "seconds": round(seconds, 2),
        "max_rss_mb": round(max_rss_mb, 1),
        "rss_before_mb": round(rss_before, 1),
        "sql_baseline_seconds": round(sql_seconds, 2),
        "sql_baseline_rows": len(rows),
        "baseline_mismatches": mismatches,
        "ratio_to_sql": round(seconds / sql_seconds, 2) if sql_seconds else None,
    }
    print(json.dumps(result), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100000)
    parser.add_argument("--db", default=DB)
    parser.add_argument("--reuse-db", action="store_true", help="skip the build")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    import odoo

    odoo.tools.config.parse_config(["-c", str(CONF), "--log-level=warn"], setup_logging=True)
    if opts.measure_only:
        measure(opts.db)
        return
    if not opts.reuse_db:
        build(opts.db, opts.customers)
    # Measure in a process of its own, so that max_rss_mb is the recompute's.
    subprocess.run([sys.executable, __file__, "--measure-only", "--db", opts.db], check=True)


if __name__ == "__main__":
    main()
