# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the benchmarks share: a fresh database with the addon installed, the book they run
on, the Stripe event they send."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"


def fresh_database(db):
    """Drop ``db`` and install customer_success in it (no demo data); return its registry."""
    import odoo

    odoo.service.db.exp_drop(db)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "-c",
            str(CONF),
            "-d",
            db,
            "-i",
            "customer_success",
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=warn",
        ],
        check=True,
    )
    return odoo.modules.registry.Registry(db)


def generate_book(env, customers):
    """The generated book both Stripe benchmarks run on (the same seed, no invoices)."""
    env["cs.demo.generator"]._generate(customers=customers, seed=5, invoices=False)


def running_stripe_subscriptions(env):
    """The book's Stripe account and its running, paying subscriptions: those the
    benchmarks' events change the price of."""
    account = env["cs.billing.account"].search([("provider", "=", "stripe")], limit=1)
    subs = env["sale.subscription"].search(
        [
            ("billing_account_id", "=", account.id),
            ("stage_id.type", "=", "in_progress"),
            ("cs_is_trial", "=", False),
        ]
    )
    return account, subs


def price_change_event(event_id, ref, currency, step, created):
    """A Stripe ``customer.subscription.updated`` event of the running subscription
    ``ref`` (billed in ``currency``, lower case) now priced 100.00 + ``step`` a month:
    for the inbox job a price change, so a ledger movement, a to-do and a note."""
    price = {
        "unit_amount": 10000 + 100 * step,
        "currency": currency,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
    }
    return {
        "id": event_id,
        "object": "event",
        "type": "customer.subscription.updated",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": ref,
                "object": "subscription",
                "status": "active",
                "currency": currency,
                "customer": "cus_bench",
                "items": {"data": [{"quantity": 1, "price": price}]},
            }
        },
    }
