# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Benchmark of the Stripe webhook against Odoo's own floor, ``/web/health``.

Builds a database with the addon and a generated book, starts Odoo with 2 HTTP
workers and a cron worker, lets the cron worker run the jobs a new database has
due (daily jobs that a production database ran long ago), then for ``--seconds``
each runs 8 concurrent senders against ``/web/health`` and with signed Stripe
``customer.subscription.updated`` events (30 % of them re-sent duplicates), in
``--rounds`` alternations so that both loads meet the same machine; after each
webhook load it waits until the inbox is drained. Prints one JSON line:
accepted_per_s, health_per_s, ratio_to_health, processed_per_s, p99_ack_ms,
health_p99_ms, lost, duplicated_effects (and the details behind them: medians too,
the backlog's growth per second during the loads).

accepted_per_s counts acknowledged deliveries (re-sent duplicates included) per
second of load; processed_per_s counts settled deliveries — a duplicate once it
is acknowledged as one, a new event once the inbox job has applied it — per
second of webhook load plus the waits for the inbox to drain, so that it equals
accepted_per_s only when the backlog does not grow. --ack-only runs no cron
worker: the acknowledgement path alone against /web/health. --cpu adds where the CPU
went, per request of each load, from the counters of every process in /proc (Linux).

    python3 tools/bench_webhooks.py [--seconds 40] [--rounds 2] [--senders 8] [--keep-db]
                                    [--ack-only] [--cpu]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench_common import fresh_database
from bench_common import generate_book
from bench_common import price_change_event
from bench_common import running_stripe_subscriptions

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"
SECRET = "whsec_bench_secret"
DB = "cs_bench_webhooks"


def percentile(values, pct):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))]


def growth(samples):
    """Events per second by which the backlog grew during a load: the least-squares
    slope of its samples after the first 2 s (the first chunk gathering). About 0 when
    the inbox keeps pace, however many events are in flight at a time."""
    points = [(t, n) for t, n in samples if t >= 2.0]
    if len(points) < 3:
        return 0.0
    mean_t = sum(t for t, _n in points) / len(points)
    mean_n = sum(n for _t, n in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _n in points)
    return sum((t - mean_t) * (n - mean_n) for t, n in points) / spread if spread else 0.0


def prepare(customers):
    import odoo
    from odoo import SUPERUSER_ID
    from odoo import api

    odoo.tools.config.parse_config(["-c", str(CONF)], setup_logging=False)
    registry = fresh_database(DB)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        generate_book(env, customers)
        account, subs = running_stripe_subscriptions(env)
        account.webhook_secret = SECRET
        refs = [
            (s.external_subscription_ref, s.currency_id.name.lower(), s.template_id.id)
            for s in subs
        ]
        account_id = account.id
    odoo.sql_db.close_all()
    return account_id, refs


class CpuMeter:
    """CPU per request of a load, by kind of process, from /proc (Linux): Odoo's HTTP
    workers, its cron worker (the one Odoo runs at nice 10), the PostgreSQL sessions
    that outlive the load, this process (the senders), the whole machine, and the
    processes started per request (``forks``: a PostgreSQL backend per connection)."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pid):
        self.server_pid = server_pid
        self.totals = {}

    @staticmethod
    def _stat(pid):
        try:
            with open("/proc/%d/stat" % pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[16])
        except (OSError, IndexError, ValueError):
            return None  # ended meanwhile

    def _processes(self):
        """{pid: (kind, cpu ticks)} of the Odoo workers and PostgreSQL processes."""
        found = {}
        for name in os.listdir("/proc"):
            stat = self._stat(int(name)) if name.isdigit() else None
            if stat is None:
                continue
            pid, (ppid, ticks, nice) = int(name), stat
            try:
                with open("/proc/%d/comm" % pid) as handle:
                    comm = handle.read().strip()
                with open("/proc/%d/cmdline" % pid, "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            if pid == self.server_pid:
                kind = "odoo_master"
            elif ppid == self.server_pid and b"gevent" in cmdline.split(b"\0"):
                kind = "odoo_gevent"
            elif ppid == self.server_pid:
                kind = "cron_worker" if nice > 0 else "http_workers"
            elif comm.startswith("postgres"):
                kind = "postgresql"
            else:
                continue
            found[pid] = (kind, ticks)
        return found

    @staticmethod
    def _machine():
        with open("/proc/stat") as handle:
            lines = handle.read().splitlines()
        ticks = [int(v) for v in lines[0].split()[1:]]
        busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait (steal included)
        forks = next(int(line.split()[1]) for line in lines if line.startswith("processes"))
        return busy, forks

    def start(self):
        self._before = self._processes()
        self._machine_before = self._machine()
        self._self_before = os.times()

    def stop(self, label, requests):
        after = self._processes()
        busy, forks = self._machine()
        own = os.times()
        total = self.totals.setdefault(label, {"requests": 0, "forks": 0})
        total["requests"] += requests
        for pid, (kind, ticks) in after.items():
            if pid in self._before:  # lived through the whole load
                total[kind] = total.get(kind, 0) + ticks - self._before[pid][1]
        total["machine"] = total.get("machine", 0) + busy - self._machine_before[0]
        total["forks"] += forks - self._machine_before[1]
        client = (own.user + own.system) - (self._self_before.user + self._self_before.system)
        total["senders"] = total.get("senders", 0) + client * self.HZ

    def report(self):
        """ms of CPU per acknowledged request, by kind; ``other`` is what no process
        alive through the load accounts for (processes of one request, the kernel)."""
        result = {}
        for label, total in self.totals.items():
            requests = max(total["requests"], 1)
            per = {
                kind: round(ticks * 1000.0 / self.HZ / requests, 2)
                for kind, ticks in total.items()
                if kind not in ("requests", "forks")
            }
            named = sum(v for kind, v in per.items() if kind != "machine")
            per["other"] = round(per["machine"] - named, 2)
            per["forks_per_request"] = round(total["forks"] / requests, 2)
            result[label] = per
        return result


def start_server(port, cron_threads=1):
    log = open(ROOT / ".build" / "bench_webhooks_server.log", "w")  # noqa: SIM115
    # The odoo launcher script, not "python -m odoo": in prefork mode Odoo re-runs
    # sys.argv[0] to spawn its gevent (websocket) process.
    launcher = Path(sys.executable).with_name("odoo")
    if not launcher.exists():
        launcher = Path(shutil.which("odoo-bin") or shutil.which("odoo") or "odoo")
    server = subprocess.Popen(
        [
            sys.executable,
            str(launcher),
            "-c",
            str(CONF),
            "-d",
            DB,
            "--db-filter",
            "^%s$" % DB,
            "--workers",
            "2",
            "--max-cron-threads",
            str(cron_threads),
            "--http-port",
            str(port),
            "--gevent-port",
            str(port + 1),
            "--limit-time-real",
            "300",
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(120):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/web/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(1)
    server.kill()
    raise SystemExit("Odoo did not start, see .build/bench_webhooks_server.log")


def run_load(port, senders, seconds, make_request):
    """``senders`` threads with keep-alive connections for ``seconds``."""
    results = [[] for _ in range(senders)]
    stop = time.monotonic() + seconds

    def sender(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sequence = 0
        while time.monotonic() < stop:
            method, path, body, headers, tag = make_request(index, sequence)
            sequence += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, payload = 0, b""
            results[index].append((status, (time.perf_counter() - started) * 1000.0, tag, payload))

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return [r for chunk in results for r in chunk], elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="of each load, in all")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternations of the two loads, so that both meet the same machine",
    )
    parser.add_argument("--senders", type=int, default=8)
    # About 130 running Stripe subscriptions: the demo book bills a customer in
    # Kazakhstan paying in dollars through Stripe, one in eight or so.
    parser.add_argument("--customers", type=int, default=1200)
    parser.add_argument("--duplicates", type=float, default=0.30)
    parser.add_argument("--port", type=int, default=8869)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--ack-only",
        action="store_true",
        help="no cron worker: the acknowledgement path alone against /web/health",
    )
    parser.add_argument(
        "--cpu", action="store_true", help="add the CPU per request by kind of process (/proc)"
    )
    opts = parser.parse_args()
    if not CONF.exists():
        raise SystemExit("Run 'make setup' first.")
    sys.path.insert(0, str(ROOT))
    from services.providers.stripe_adapter import sign  # noqa: PLC0415

    account_id, refs = prepare(opts.customers)
    import odoo  # noqa: PLC0415
    from odoo import SUPERUSER_ID  # noqa: PLC0415
    from odoo import api  # noqa: PLC0415

    def waiting():
        with odoo.sql_db.db_connect(DB).cursor() as cr:  # no registry: no delay
            cr.execute("SELECT count(*) FROM cs_billing_event WHERE state = 'received'")
            return cr.fetchone()[0]

    def jobs_due():
        """Scheduled jobs due now, the inbox's and the Kaspi poll's (every minute) aside."""
        with odoo.sql_db.db_connect(DB).cursor() as cr:
            cr.execute(
                """
                SELECT count(*) FROM ir_cron c
                  LEFT JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id
                   AND d.module = 'customer_success'
                   AND d.name IN ('ir_cron_billing_events', 'ir_cron_kaspi_poll')
                 WHERE c.active AND c.nextcall <= now() AT TIME ZONE 'UTC' AND d.id IS NULL
                """
            )
            return cr.fetchone()[0]

    backlog_samples = []  # per round: [(seconds into the load, events waiting)]

    def sample_backlog(stop):
        began, samples = time.monotonic(), []
        backlog_samples.append(samples)
        while not stop.wait(0.5):
            samples.append((time.monotonic() - began, waiting()))

    server = start_server(opts.port, cron_threads=0 if opts.ack_only else 1)
    try:
        rng = random.Random(7)
        sent = [[] for _ in range(opts.senders)]
        counters = {}
        path = "/customer_success/webhook/stripe/%d" % account_id
        base_time = int(time.time())

        def webhook(index, sequence):
            own = sent[index]
            if own and rng.random() < opts.duplicates:
                body, event_id = own[rng.randrange(len(own))]
            else:
                ref, currency, _template = refs[(index + opts.senders * sequence) % len(refs)]
                step = counters[ref] = counters.get(ref, 0) + 1
                event_id = "evt_bench_%s_%d" % (ref, step)
                body = json.dumps(
                    price_change_event(event_id, ref, currency, step, base_time + step)
                ).encode()
                own.append((body, event_id))
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, SECRET)}
            return "POST", path, body, headers, event_id

        # A new database has every daily job due at once (the autovacuum, OCA's
        # invoicing, health scores, signals...): a production database ran them
        # long ago. The cron worker runs them first, not during the loads.
        settle_started = time.time()
        while not opts.ack_only and jobs_due() and time.time() - settle_started < 600:
            time.sleep(1)
        settled_s = time.time() - settle_started
        print("bench-webhooks: due jobs ran in %.0f s" % settled_s, file=sys.stderr, flush=True)
        time.sleep(2)  # the last of them finishing
        # Rounds of /web/health, then webhooks, then the wait until the inbox is
        # drained (polled every 0.1 s), which counts as webhook time. Backlog and
        # drain are reported for the worst round.
        # Warm-up, not measured: every worker (the cron worker too) loads the
        # registry on its first request or job, a once-per-worker-life cost.
        run_load(opts.port, opts.senders, 3.0, webhook)
        run_load(opts.port, opts.senders, 1.0, lambda i, n: ("GET", "/web/health", None, {}, None))
        while not opts.ack_only and waiting():
            time.sleep(0.1)
        health, hooks = [], []
        health_elapsed = hooks_elapsed = drain_seconds = longest_drain = 0.0
        backlog_at_end = 0
        meter = CpuMeter(server.pid) if opts.cpu else None
        print("bench-webhooks: measuring (%d rounds)" % opts.rounds, file=sys.stderr, flush=True)
        for _round in range(opts.rounds):
            if meter:
                meter.start()
            results, elapsed = run_load(
                opts.port,
                opts.senders,
                opts.seconds / opts.rounds,
                lambda i, n: ("GET", "/web/health", None, {}, None),
            )
            if meter:
                meter.stop("health", sum(1 for status, *_ in results if status == 200))
                meter.start()
            health += results
            health_elapsed += elapsed
            # The inbox's backlog, sampled every 0.5 s during the load.
            sampling = threading.Event()
            sampler = threading.Thread(target=sample_backlog, args=(sampling,))
            sampler.start()
            results, elapsed = run_load(
                opts.port, opts.senders, opts.seconds / opts.rounds, webhook
            )
            sampling.set()
            sampler.join()
            print(
                "bench-webhooks: backlog every 0.5 s of webhook load %d: %s"
                % (_round + 1, " ".join(str(n) for _t, n in backlog_samples[-1])),
                file=sys.stderr,
                flush=True,
            )
            hooks += results
            hooks_elapsed += elapsed
            backlog_at_end = max(backlog_at_end, waiting())
            load_end = time.time()
            deadline = load_end + 600
            while not opts.ack_only and waiting() and time.time() < deadline:
                time.sleep(0.1)
            drain_seconds += time.time() - load_end
            longest_drain = max(longest_drain, time.time() - load_end)
            if meter:  # the drain is the work of these requests too
                meter.stop("webhook", sum(1 for status, *_ in results if status == 200))
        accepted_ids = {tag for status, _ms, tag, _p in hooks if status == 200}
        accepted = sum(1 for status, *_rest in hooks if status == 200)
        registry = odoo.modules.registry.Registry(DB)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Event = env["cs.billing.event"]
            stored = Event.search([("external_id", "in", list(accepted_ids))])
            processed = len(stored.filtered(lambda e: e.state in ("processed", "ignored")))
            changing = Event.search_count(
                [
                    ("state", "=", "processed"),
                    "|",
                    ("result", "ilike", "Upgrade"),
                    ("result", "ilike", "Downgrade"),
                ]
            )
            movements = env["cs.mrr.movement"].search_count([("source", "=", "stripe")])
            failed = Event.search_count([("state", "=", "failed")])
    finally:
        server.terminate()
        server.wait(timeout=60)
        if not opts.keep_db:
            import odoo  # noqa: PLC0415

            odoo.sql_db.close_all()
            odoo.service.db.exp_drop(DB)
    health_ok = [ms for status, ms, *_ in health if status == 200]
    hook_ms = [ms for status, ms, *_ in hooks if status == 200]
    health_per_s = len(health_ok) / health_elapsed
    accepted_per_s = accepted / hooks_elapsed
    # A delivery is settled when nothing is left to do for it: a re-delivery when it
    # is acknowledged as a duplicate, a new event when the inbox job has applied it.
    settled = (accepted - len(accepted_ids)) + processed
    result = {
        "senders": opts.senders,
        "seconds": opts.seconds,
        "requests": len(hooks),
        "unique_events": len(accepted_ids),
        "accepted_per_s": round(accepted_per_s, 1),
        "health_per_s": round(health_per_s, 1),
        "ratio_to_health": round(accepted_per_s / health_per_s, 3) if health_per_s else 0,
        "processed_per_s": round(settled / (hooks_elapsed + drain_seconds), 1),
        "unique_accepted_per_s": round(len(accepted_ids) / hooks_elapsed, 1),
        "unique_processed_per_s": round(processed / (hooks_elapsed + drain_seconds), 1),
        "rounds": opts.rounds,
        "max_backlog_during_load": max(
            (n for samples in backlog_samples for _t, n in samples), default=0
        ),
        "backlog_growth_per_s": round(max(map(growth, backlog_samples), default=0.0), 2),
        "backlog_at_end_of_load": backlog_at_end,
        "drain_after_load_s": round(longest_drain, 2),
        "p50_ack_ms": round(percentile(hook_ms, 50), 1),
        "health_p50_ms": round(percentile(health_ok, 50), 1),
        "p99_ack_ms": round(percentile(hook_ms, 99), 1),
        "health_p99_ms": round(percentile(health_ok, 99), 1),
        "lost": len(accepted_ids) - len(stored),
        "duplicated_effects": max(movements - changing, 0),
        "failed_events": failed,
        "errors": sum(1 for status, *_ in hooks if status != 200),
        "daily_jobs_settled_s": round(settled_s, 1),
    }
    if meter:
        result["cpu_ms_per_request"] = meter.report()
    if opts.ack_only:  # nothing was applied: no processing figures
        for key in ("processed_per_s", "unique_processed_per_s", "drain_after_load_s"):
            result[key] = None
    print(json.dumps(result))
    return 0 if os.environ.get("CS_BENCH_STRICT") is None else int(result["lost"] > 0)


if __name__ == "__main__":
    sys.exit(main())
