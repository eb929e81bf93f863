# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Run the customer_success test suite on a fresh throwaway database.

Installs the addon (without demo data) on a new database with Odoo's own test
runner (TransactionCase at install, HttpCase and browser tests post install),
then prints one readable summary line and exits non-zero when a test failed,
errored, or when no test ran at all.

    python3 tools/run_tests.py [--keep] [--tags /customer_success:TestX] [--demo]
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cs_test_%d" % os.getpid())
    parser.add_argument("--tags", default="/customer_success")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--demo", action="store_true", help="install with demo data")
    parser.add_argument("--http-port", default=os.environ.get("CS_TEST_HTTP_PORT", "8169"))
    opts = parser.parse_args()
    if not CONF.exists():
        sys.exit("No %s: run 'make setup' first." % CONF)

    import odoo
    from odoo.tests import result as test_result

    reports, failed = [], []
    original_log_stats = test_result.OdooTestResult.log_stats
    original_add_failure = test_result.OdooTestResult.addFailure
    original_add_error = test_result.OdooTestResult.addError

    def log_stats(self):
        reports.append(self)
        return original_log_stats(self)

    def add_failure(self, test, err):
        failed.append("FAIL  %s" % test)
        return original_add_failure(self, test, err)

    def add_error(self, test, err):
        failed.append("ERROR %s" % test)
        return original_add_error(self, test, err)

    test_result.OdooTestResult.log_stats = log_stats
    test_result.OdooTestResult.addFailure = add_failure
    test_result.OdooTestResult.addError = add_error

    args = [
        "-c",
        str(CONF),
        "-d",
        opts.db,
        "-i",
        "customer_success",
        "--test-enable",
        "--test-tags",
        opts.tags,
        "--stop-after-init",
        "--http-port",
        str(opts.http_port),
        "--max-cron-threads",
        "0",
        "--log-level",
        "info",
    ]
    if not opts.demo:
        args.append("--without-demo=all")
    started = time.time()
    rc = 0
    try:
        from odoo.cli.server import main as server_main

        server_main(args)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        if not opts.keep:
            try:
                odoo.sql_db.close_all()
                odoo.service.db.exp_drop(opts.db)
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the summary
                print("warning: could not drop %s: %s" % (opts.db, exc))
    elapsed = time.time() - started
    sys.stdout.flush()
    sys.stderr.flush()
    if not reports:
        print(
            "\ncustomer_success: the addon did not install or no test ran "
            "(Odoo exit code %s, %.0f s) - see the log above" % (rc, elapsed)
        )
        sys.exit(1)
    report = reports[-1]
    passed = report.testsRun - report.failures_count - report.errors_count - report.skipped
    if failed:
        print("\nFailing tests:")
        for line in failed:
            print("  " + line)
    summary = "%d passed, %d failed, %d errors, %d skipped of %d tests in %.0f s" % (
        passed,
        report.failures_count,
        report.errors_count,
        report.skipped,
        report.testsRun,
        elapsed,
    )
    ok = report.testsRun > 0 and report.wasSuccessful() and rc == 0
    print("\ncustomer_success tests: %s - %s" % (summary, "OK" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
