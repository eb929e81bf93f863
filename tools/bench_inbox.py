# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Benchmark of the inbox job alone: the CPU it costs to apply a Stripe event.

What ``make bench-webhooks`` measures under load, where the machine's noise is of
the size of the differences sought, measured here in one process, without HTTP:
builds a database with the addon and a generated book (``--reuse`` keeps the one
of an earlier run), then for ``--rounds`` rounds stores one signed-shaped
``customer.subscription.updated`` event per running Stripe subscription (each
changes its price: a ledger movement, a to-do brought up to date, a chatter note,
as in ``make bench-webhooks``) and applies them as the inbox job does, in chunks of
``--chunk`` events, one transaction each. Two rounds come first, not measured
(the first change of each subscription moves its segment and opens its to-do).

Per applied event: the CPU of this process (Odoo's ORM, ``py_cpu_ms``), of its
PostgreSQL session (``pg_cpu_ms``, from /proc, Linux), the SQL statements and the
bytes of write-ahead log (what PostgreSQL wrote: the one figure without noise); per
quantity the lowest and the median round. The last line is one JSON object.
``--profile`` writes a cProfile of the measured rounds (``python3 -m pstats``).

    python3 tools/bench_inbox.py [--rounds 5] [--chunk 50] [--customers 1200] [--reuse]
                                 [--profile FILE]
"""

import argparse
import cProfile
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench_common import fresh_database
from bench_common import generate_book
from bench_common import price_change_event
from bench_common import running_stripe_subscriptions

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"
DB = "cs_bench_inbox"
HZ = os.sysconf("SC_CLK_TCK")


def backend_cpu(cr):
    """CPU seconds used so far by the PostgreSQL backend of ``cr``."""
    cr.execute("SELECT pg_backend_pid()")
    with open("/proc/%d/stat" % cr.fetchone()[0]) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def wal_position(cr):
    """Bytes of WAL PostgreSQL has written so far: what a round writes, without noise."""
    cr.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")
    return int(cr.fetchone()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--customers", type=int, default=1200)
    parser.add_argument("--reuse", action="store_true", help="the database of an earlier run")
    parser.add_argument("--profile", metavar="FILE", help="cProfile of the measured rounds")
    opts = parser.parse_args()

    import odoo
    from odoo import SUPERUSER_ID
    from odoo import api

    odoo.tools.config.parse_config(["-c", str(CONF)], setup_logging=False)
    from odoo.addons.customer_success.services.providers import stripe_adapter

    if opts.reuse and DB in odoo.service.db.list_dbs(force=True):
        registry = odoo.modules.registry.Registry(DB)
        build = False
    else:
        registry = fresh_database(DB)
        build = True
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if build:
            generate_book(env, opts.customers)
            cr.commit()
        account, subs = running_stripe_subscriptions(env)
        Event = env["cs.billing.event"].sudo()
        refs = [(s.external_subscription_ref, s.currency_id.name.lower()) for s in subs]
        # whole chunks, as a stream fills them: no chunk of a few events at the end
        refs = refs[: max(len(refs) // opts.chunk, 1) * opts.chunk]
        cr.execute("SELECT count(*) FROM cs_billing_event WHERE external_id LIKE 'evt_inbox_%%'")
        start = cr.fetchone()[0] // max(len(refs), 1) + 1
        base = int(time.time())

        def store(step):
            for ref, currency in refs:
                body = price_change_event(
                    "evt_inbox_%s_%d" % (ref, step), ref, currency, step, base + step
                )
                Event._store(account, stripe_adapter.parse(json.dumps(body)))
            cr.commit()

        def apply():
            """The inbox job's chunks (``_process_due``, a commit each); the events
            applied."""
            done = 0
            while True:
                count = Event._process_due(limit=opts.chunk)
                cr.commit()
                env.invalidate_all()
                if not count:
                    return done
                done += count

        rounds = []
        profile = cProfile.Profile() if opts.profile else None
        for index in range(opts.rounds + 2):
            store(start + index)
            cpu, pg, statements = time.process_time(), backend_cpu(cr), cr.sql_log_count
            wal = wal_position(cr)
            if profile and index >= 2:
                profile.enable()
            done = apply()
            if profile:
                profile.disable()
            cpu, pg = time.process_time() - cpu, backend_cpu(cr) - pg
            statements = cr.sql_log_count - statements
            wal = wal_position(cr) - wal
            if index >= 2 and done:
                rounds.append((cpu * 1000 / done, pg * 1000 / done, statements / done, wal / done))
            print(
                "bench-inbox: round %d, %d events, %.2f ms CPU, %.2f ms PostgreSQL per event%s"
                % (index + 1, done, cpu * 1000 / max(done, 1), pg * 1000 / max(done, 1),
                   "" if index >= 2 else " (not measured)"),
                file=sys.stderr,
                flush=True,
            )  # fmt: skip
        cr.execute(
            "SELECT state, count(*) FROM cs_billing_event"
            " WHERE external_id LIKE 'evt_inbox_%%' GROUP BY state"
        )
        states = dict(cr.fetchall())
        cr.execute(
            "SELECT count(*) FROM sale_subscription WHERE id = ANY(%s)"
            " AND round(cs_ledger_mrr, 2) != round(mrr, 2)",
            [subs.ids],
        )
        ledger_behind = cr.fetchone()[0]

    if profile:
        profile.dump_stats(opts.profile)

    def summary(values):
        return {"min": round(min(values), 2), "median": round(statistics.median(values), 2)}

    print(
        json.dumps(
            {
                "events_per_round": len(refs),
                "rounds": len(rounds),
                "chunk": opts.chunk,
                "py_cpu_ms_per_event": summary([r[0] for r in rounds]),
                "pg_cpu_ms_per_event": summary([r[1] for r in rounds]),
                "statements_per_event": summary([r[2] for r in rounds]),
                "wal_bytes_per_event": summary([r[3] for r in rounds]),
                "events_by_state": states,
                "ledger_behind": ledger_behind,
            }
        )
    )


if __name__ == "__main__":
    main()
