# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from collections import Counter
from collections import defaultdict
from datetime import date

from odoo.exceptions import UserError
from odoo.tests import TransactionCase
from odoo.tests import tagged

from ..services import demo_book


@tagged("post_install", "-at_install", "customer_success")
class TestDemoGenerator(TransactionCase):
    def test_book_is_deterministic_and_realistic(self):
        first = demo_book.build_book(customers=300, months=24, today=date(2026, 11, 1), seed=3)
        again = demo_book.build_book(customers=300, months=24, today=date(2026, 11, 1), seed=3)
        self.assertEqual(first.changes, again.changes)
        self.assertEqual([c.name for c in first.customers], [c.name for c in again.customers])
        other = demo_book.build_book(customers=300, months=24, today=date(2026, 11, 1), seed=4)
        self.assertNotEqual(first.changes, other.changes)
        plans = Counter(s.plan for s in first.subscriptions)
        self.assertTrue({"start", "pro", "enterprise", "addon"} <= set(plans))
        self.assertEqual({s.currency for s in first.subscriptions}, {"KZT", "RUB", "USD"})
        # Customers in Russia pay in roubles, some through YooKassa.
        russian = {c.key for c in first.customers if c.country == "RU"}
        self.assertTrue(russian)
        self.assertEqual(
            {s.currency for s in first.subscriptions if s.customer in russian}, {"RUB"}
        )
        self.assertIn("yookassa", {s.provider for s in first.subscriptions})
        self.assertEqual(
            {s.billing for s in first.subscriptions}, {"monthly", "quarterly", "annual"}
        )
        self.assertTrue(any(s.end for s in first.subscriptions))
        self.assertTrue(any(s.payment_status == "overdue" for s in first.subscriptions))
        self.assertTrue(all(c[0] <= date(2026, 11, 1) for c in first.changes))

    def test_generated_ledger_matches_subscriptions(self):
        company = self.env["res.company"].create(
            {"name": "Demo SaaS", "currency_id": self.env.ref("base.USD").id}
        )
        self.env.user.company_ids |= company
        self.env = self.env(context=dict(self.env.context, allowed_company_ids=company.ids))
        stats = self.env["cs.demo.generator"]._generate(
            customers=40,
            months=18,
            seed=11,
            today=date(2026, 11, 1),
            invoices=True,
            company=company,
        )
        with self.assertRaises(UserError):
            self.env["cs.demo.generator"]._generate(customers=5, company=company)
        # The module's demo data loaded again (odoo -i over this database): kept.
        partners = self.env["res.partner"].search_count([])
        self.assertIsNone(self.env["cs.demo.generator"].with_company(company)._demo_data(5, 6, 1))
        self.assertEqual(self.env["res.partner"].search_count([]), partners)
        self.assertEqual(stats["customers"], 40)
        # One billing account per provider, each in the company, with its webhook URL.
        billing = self.env["cs.billing.account"].search([("company_id", "=", company.id)])
        self.assertEqual(
            sorted(billing.mapped("provider")),
            ["cloudpayments", "kaspi", "robokassa", "stripe", "yookassa"],
        )
        self.assertTrue(all(billing.mapped("webhook_url")))
        self.assertGreater(stats["movements"], 40)
        self.assertGreater(stats["invoices"], 0)
        movements = self.env["cs.mrr.movement"].search(
            [("source", "=", "demo"), ("company_id", "=", company.id)]
        )
        types = set(movements.mapped("movement_type"))
        self.assertTrue({"new", "expansion", "churn"} <= types)
        # The ledger of each subscription sums to its current MRR (subscription currency),
        # the changes the demo's billing events applied included.
        per_sub = defaultdict(float)
        for movement in self.env["cs.mrr.movement"].search([("company_id", "=", company.id)]):
            per_sub[movement.subscription_id] += movement.amount_currency
        for sub, total in per_sub.items():
            self.assertAlmostEqual(total, sub.mrr, places=1, msg=sub.name)
            self.assertAlmostEqual(sub.cs_ledger_mrr, sub.mrr, places=2)
        accounts = self.env["res.partner"].search(
            [("cs_is_account", "=", True), ("id", "in", movements.partner_id.ids)]
        )
        self.assertEqual(len(accounts), 40)
        paying = accounts.filtered(lambda p: p.cs_mrr > 0)
        self.assertTrue(paying)
        self.assertTrue(all(p.customer_since for p in paying))
        self.assertTrue(all(p.csm_id for p in accounts))
        # Their subscriptions are managed by the account's CSM, not by who generated them.
        subs = movements.subscription_id
        self.assertTrue(subs)
        self.assertEqual([s.user_id for s in subs], [s.commercial_partner_id.csm_id for s in subs])
        # The SQL totals agree with the ORM compute.
        sample = paying[:5]
        expected = {p.id: p.cs_mrr for p in sample}
        self.env.add_to_compute(self.env["res.partner"]._fields["cs_mrr"], sample)
        sample.flush_recordset(["cs_mrr"])
        for partner in sample:
            self.assertAlmostEqual(partner.cs_mrr, expected[partner.id], places=1)
        # Usage, NPS and 31 days of health history come with the book.
        self.assertGreater(stats["usage_rows"], 1000)
        scored = paying.filtered("health_zone")
        self.assertTrue(scored)
        self.assertTrue(set(scored.mapped("health_zone")) & {"green", "yellow", "red"})
        snapshots = self.env["cs.health.snapshot"].search_count([("partner_id", "in", scored.ids)])
        self.assertGreaterEqual(snapshots, len(scored) * 31)
        # The inbox of the last days, applied by the webhooks' own code.
        events = self.env["cs.billing.event"].search([("company_id", "=", company.id)])
        self.assertEqual(len(events), stats["billing_events"])
        self.assertEqual(
            sorted((e.event_type, e.state) for e in events),
            [
                ("customer.created", "ignored"),
                ("customer.subscription.paused", "processed"),
                ("customer.subscription.updated", "processed"),
                ("customer.subscription.updated", "processed"),
                ("customer.subscription.updated", "processed"),
                ("invoice.paid", "processed"),
                ("invoice.paid", "unmatched"),
                ("invoice.payment_failed", "processed"),
                ("pay", "processed"),
            ],
        )
        results = set(events.mapped("result"))
        self.assertIn("Plan: Start (quarterly) → Pro (quarterly); Upgrade, MRR +57.00", results)
        self.assertIn("Plan: Pro (monthly) → Start (monthly); Downgrade, MRR -60.00", results)
        # The Stripe payment and the Kaspi one paid and reconciled their invoices, each in
        # the subscription's currency.
        payments = events.filtered("payment_id")
        self.assertEqual(sorted(payments.mapped("event_type")), ["invoice.paid", "pay"])
        for event in payments:
            invoice = event.payment_id.reconciled_invoice_ids
            self.assertEqual(invoice.subscription_id, event.subscription_id)
            self.assertEqual(invoice.currency_id, event.subscription_id.currency_id)
            self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        failed = events.filtered(lambda e: e.event_type == "invoice.payment_failed")
        self.assertEqual(failed.subscription_id.payment_status, "failed")
        self.assertTrue(failed.subscription_id.activity_ids)
        upgraded = events.filtered(lambda e: "Upgrade" in (e.result or "")).subscription_id
        self.assertEqual(upgraded.template_id.cs_provider_plan_refs, "price_demo_pro_quarterly")
        stripe_moves = self.env["cs.mrr.movement"].search(
            [("company_id", "=", company.id), ("source", "=", "stripe")]
        )
        paused = events.filtered(lambda e: e.event_type == "customer.subscription.paused")
        pause = stripe_moves.filtered(lambda m: m.subscription_id == paused.subscription_id)
        self.assertEqual(
            sorted((stripe_moves - pause).mapped("movement_type")), ["contraction", "expansion"]
        )
        # The customer has other subscriptions: a contraction, else a churn.
        self.assertIn(pause.movement_type, ("contraction", "churn"))
        self.assertLess(pause.amount_currency, 0)
        self.assertTrue(paused.subscription_id.cs_paused)
        self.assertEqual(paused.subscription_id.mrr, 0.0)
        self.assertIn("Paused: no MRR until it resumes", paused.result)
        # A grace period: collection paused, the MRR kept, the CSM's to-do.
        grace = events.filtered(lambda e: "Payment collection paused" in (e.result or ""))
        self.assertIn("kept as drafts", grace.result)
        self.assertTrue(grace.subscription_id.cs_collection_paused)
        self.assertTrue(grace.subscription_id.mrr)
        self.assertIn(
            "Payment collection paused",
            " ".join(grace.subscription_id.activity_ids.mapped("summary")),
        )
        # Editing a generated subscription keeps writing to the same ledger.
        sub = paying[0].cs_subscription_ids.filtered(lambda s: s.mrr)[:1]
        before = self.env["cs.mrr.movement"].search_count([("subscription_id", "=", sub.id)])
        sub.sale_subscription_line_ids[:1].product_uom_qty += 1
        after = self.env["cs.mrr.movement"].search_count([("subscription_id", "=", sub.id)])
        self.assertEqual(after, before + 1)
