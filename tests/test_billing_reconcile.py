# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import date

from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import Form
from odoo.tests import new_test_user
from odoo.tests import tagged

from ..services.providers.common import BillingEvent
from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestReconcileOnInvoice(CustomerSuccessCase):
    """An accountant registers a provider payment that matched no invoice on the
    invoice it pays, from "Payments to Reconcile"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.env["cs.billing.account"].create(
            {"name": "Kaspi Pay", "provider": "kaspi", "currency_id": cls.kzt.id}
        )
        cls.sub = cls._subscription(
            price=15000.0, currency=cls.kzt, billing_account_id=cls.account.id
        )
        cls.accountant = new_test_user(
            cls.env,
            login="accountant",
            groups="account.group_account_invoice",
            name="Dana Accountant",
        )

    def unreconciled_payment(self, amount, txn="TXN", created=1790000000):
        """A processed provider payment of ``amount`` that found no invoice of its amount."""
        event, _created = self.env["cs.billing.event"]._store(
            self.account,
            BillingEvent(
                external_id="pay:%s-%s" % (txn, amount),
                event_type="pay",
                created=created,
                payload={"txn_id": "TXN", "sum": amount},
            ),
            state="processed",
        )
        event._bind(self.sub)
        event.write({"amount": amount, "currency_id": self.kzt.id, "to_reconcile": True})
        return event

    def test_accountant_registers_the_payment_on_the_invoice(self):
        # The invoice carries tax, so the net payment found no invoice of its amount.
        invoice = self._posted_invoice(self.sub, 15000.0)
        event = self.unreconciled_payment(invoice.amount_total)
        other = self._posted_invoice(self.sub, 99.0)
        wizard = Form(
            self.env["cs.billing.reconcile"]
            .with_user(self.accountant)
            .with_context(active_model="cs.billing.event", active_id=event.id)
        )
        self.assertEqual(wizard.invoice_id, invoice)  # the open invoice of that amount
        self.assertTrue(wizard.journal_id)
        wizard.save().action_register()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(other.payment_state, "not_paid")
        self.assertFalse(event.to_reconcile)
        self.assertEqual(event.payment_id.amount, invoice.amount_total)
        self.assertEqual(event.payment_id.memo, event.external_id)
        self.assertIn("registered on %s" % invoice.name, event.result)
        # Done once: the same event cannot pay a second invoice.
        with self.assertRaises(UserError):
            journal = event.payment_id.journal_id
            self.env["cs.billing.reconcile"].create(
                {"event_id": event.id, "invoice_id": other.id, "journal_id": journal.id}
            ).action_register()

    def test_refunds_and_csms_do_not_register_payments(self):
        invoice = self._posted_invoice(self.sub, 15000.0)
        refund = self.unreconciled_payment(15000.0)
        refund.amount = -15000.0
        journal = refund._payment_journal(self.env.company)
        with self.assertRaises(UserError):
            self.env["cs.billing.reconcile"].create(
                {"event_id": refund.id, "invoice_id": invoice.id, "journal_id": journal.id}
            ).action_register()
        # A refund that failed gives the money back to the business, yet pays no invoice.
        undone = self.unreconciled_payment(14999.0)
        undone.event_type = "refund.failed"
        self.assertFalse(undone.is_payment)
        with self.assertRaisesRegex(UserError, "reversing its credit note"):
            self.env["cs.billing.reconcile"].create(
                {"event_id": undone.id, "invoice_id": invoice.id, "journal_id": journal.id}
            ).action_register()
        self.assertTrue(undone.to_reconcile)
        with self.assertRaises(AccessError):
            self.env["cs.billing.reconcile"].with_user(self.cs_user).create(
                {"event_id": refund.id, "invoice_id": invoice.id, "journal_id": journal.id}
            )
        # Accountants read billing accounts, never their secrets.
        account = self.account.with_user(self.accountant)
        self.assertEqual(account.read(["name"])[0]["name"], "Kaspi Pay")
        for field in ("webhook_secret", "api_key", "url_token"):
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.read([field])

    def test_a_subscription_is_invoiced_in_its_own_currency(self):
        # A tenge subscription in a company of another currency: its invoice is in tenge,
        # so that the provider's payment of that amount pays it.
        invoice = self.sub.create_invoice()
        self.assertEqual(invoice.currency_id, self.kzt)
        self.assertEqual(invoice.amount_total, 15000.0)
        invoice.action_post()
        self.assertEqual(self.sub._cs_open_invoice(15000.0, self.kzt), invoice)
        self.assertLess(invoice.amount_total_signed, 15000.0)  # in the company's currency

    def draft_invoice(self, amount, invoice_date=date(2026, 10, 5), move_type="out_invoice"):
        """A draft customer invoice (or credit note) of the subscription for ``amount``
        (before tax)."""
        return self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": self.sub.partner_id.id,
                "subscription_id": self.sub.id,
                "currency_id": self.kzt.id,
                "invoice_date": invoice_date,
                "invoice_line_ids": [(0, 0, {"name": "Pro", "quantity": 1, "price_unit": amount})],
            }
        )

    def test_a_payment_that_came_first_pays_the_invoice_posted_later(self):
        invoice = self.draft_invoice(15000.0)
        total = invoice.amount_total
        first = self.unreconciled_payment(total, txn="A", created=1790000000)  # 2026-09-21
        second = self.unreconciled_payment(total, txn="B", created=1790100000)
        other_amount = self.unreconciled_payment(total - 1)
        refund = self.unreconciled_payment(total, txn="R")
        refund.amount = -total
        undone = self.unreconciled_payment(total, txn="U", created=1789000000)
        undone.event_type = "refund.failed"  # money back to the business: it pays nothing
        self.account.invoice_payment_links = True
        # The accountant who posts it has no Customer Success rights.
        invoice.with_user(self.accountant).action_post()
        # Paid as it was posted: no payment link is queued for it.
        links = self.env["cs.billing.payment.request"].search([("invoice_id", "=", invoice.id)])
        self.assertFalse(links)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(first.to_reconcile)
        self.assertEqual(first.payment_id.amount, total)
        self.assertEqual(first.payment_id.memo, first.external_id)
        self.assertEqual(first.payment_id.date, date(2026, 9, 21))  # the day the money came
        self.assertIn("registered on %s" % invoice.name, first.result)
        for waiting in second | other_amount | refund | undone:
            with self.subTest(event=waiting.external_id):
                self.assertTrue(waiting.to_reconcile)
                self.assertFalse(waiting.payment_id)
        # The next invoice of that amount takes the next payment.
        later = self.draft_invoice(15000.0, invoice_date=date(2026, 11, 5))
        later.action_post()
        self.assertIn(later.payment_state, ("paid", "in_payment"))
        self.assertEqual(second.payment_id.reconciled_invoice_ids, later)
        self.assertFalse(second.to_reconcile)
        self.assertEqual(first.payment_id.reconciled_invoice_ids, invoice)

    def test_a_payment_of_a_locked_period_stays_for_the_accountant(self):
        invoice = self.draft_invoice(15000.0)
        event = self.unreconciled_payment(invoice.amount_total)  # 2026-09-21
        self.env.company.fiscalyear_lock_date = date(2026, 9, 30)
        invoice.action_post()  # posting is not held up by the payment it cannot take
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertTrue(event.to_reconcile)
        self.assertFalse(event.payment_id)
        # Nor is a payment of another subscription taken.
        other = self._subscription(
            price=15000.0, currency=self.kzt, billing_account_id=self.account.id
        )
        self.env.company.fiscalyear_lock_date = False
        other_invoice = self.draft_invoice(15000.0)
        other_invoice.subscription_id = other
        other_invoice.action_post()
        self.assertEqual(other_invoice.payment_state, "not_paid")
        self.assertTrue(event.to_reconcile)

    def test_a_payment_of_a_locked_period_on_a_posted_invoice_waits_too(self):
        # The invoice was posted before the payment came, dated in a closed period.
        invoice = self._posted_invoice(self.sub, 15000.0)
        event = self.unreconciled_payment(invoice.amount_total)  # 2026-09-21
        event.to_reconcile = False
        self.env.company.fiscalyear_lock_date = date(2026, 9, 30)
        state, result = event._effect_payment_succeeded(
            self.sub, invoice.amount_total, self.kzt, "TXN", False
        )
        # Processed, not failed after its retries: it waits for the accountant.
        self.assertEqual(state, "processed")
        self.assertIn("to reconcile", result)
        self.assertTrue(event.to_reconcile)
        self.assertFalse(event.payment_id)
        self.assertEqual(invoice.payment_state, "not_paid")
        # Who registers it in the first open day the wizard proposes.
        wizard = Form(
            self.env["cs.billing.reconcile"]
            .with_user(self.accountant)
            .with_context(active_model="cs.billing.event", active_id=event.id)
        )
        self.assertEqual(wizard.invoice_id, invoice)
        self.assertEqual(wizard.payment_date, date(2026, 10, 1))
        wizard.save().action_register()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(event.payment_id.date, date(2026, 10, 1))
        self.assertFalse(event.to_reconcile)
        # With the period open, the wizard proposes the day the money came.
        self.env.company.fiscalyear_lock_date = False
        other = self.unreconciled_payment(99.0, txn="OPEN")
        wizard = Form(
            self.env["cs.billing.reconcile"].with_context(
                active_model="cs.billing.event", active_id=other.id
            )
        )
        self.assertEqual(wizard.payment_date, date(2026, 9, 21))

    def test_registered_on_reads_in_the_office_language_whoever_posts(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        self.env.ref("base.user_admin").lang = "ru_RU"  # a Russian office
        self.accountant.lang = "en_US"
        invoice = self.draft_invoice(15000.0)
        event = self.unreconciled_payment(invoice.amount_total)
        invoice.with_user(self.accountant).with_context(lang="en_US").action_post()
        self.assertFalse(event.to_reconcile)
        self.assertIn("зарегистрирован по счёту %s" % invoice.name, event.result)

    def test_a_one_off_payment_pays_its_customer_s_invoice_posted_later(self):
        # A setup fee paid at the provider, of no subscription, then invoiced in Odoo.
        invoice = self.draft_invoice(50000.0)
        invoice.subscription_id = False
        fee = self.unreconciled_payment(invoice.amount_total, txn="FEE")
        fee.write({"subscription_id": False, "partner_id": self.sub.commercial_partner_id.id})
        renewal = self.unreconciled_payment(invoice.amount_total, txn="SUB")  # a subscription's
        stranger = self.env["res.partner"].create({"name": "Stranger LLP", "is_company": True})
        other = self.unreconciled_payment(invoice.amount_total, txn="OTHER")
        other.write({"subscription_id": False, "partner_id": stranger.id})
        invoice.action_post()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(fee.payment_id.reconciled_invoice_ids, invoice)
        self.assertFalse(fee.to_reconcile)
        self.assertTrue(renewal.to_reconcile and other.to_reconcile)
        # Nor does a subscription's invoice take a payment of no subscription.
        other.partner_id = self.sub.commercial_partner_id
        sub_invoice = self.draft_invoice(50000.0)
        sub_invoice.action_post()
        self.assertEqual(renewal.payment_id.reconciled_invoice_ids, sub_invoice)
        self.assertTrue(other.to_reconcile)

    def test_money_back_is_registered_on_the_credit_note_posted_for_it(self):
        credit_note = self.draft_invoice(15000.0, move_type="out_refund")
        total = credit_note.amount_total
        refund = self.unreconciled_payment(total, txn="R", created=1790000000)  # 2026-09-21
        refund.amount = -total
        payment = self.unreconciled_payment(total, txn="P")  # money in pays no credit note
        undone = self.unreconciled_payment(total, txn="U", created=1789000000)
        undone.event_type = "refund.failed"  # money back to the business: not a refund
        credit_note.with_user(self.accountant).action_post()
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))
        self.assertFalse(refund.to_reconcile)
        self.assertEqual(refund.payment_id.payment_type, "outbound")
        self.assertEqual(refund.payment_id.amount, total)
        self.assertEqual(refund.payment_id.date, date(2026, 9, 21))
        self.assertEqual(refund.payment_id.reconciled_invoice_ids, credit_note)
        self.assertIn("registered on credit note %s" % credit_note.name, refund.result)
        self.assertTrue(payment.to_reconcile and undone.to_reconcile)
        self.assertFalse(payment.payment_id or undone.payment_id)

    def test_accountant_registers_a_refund_on_its_credit_note(self):
        # A partial refund: the credit note was posted before the refund came.
        credit_note = self.draft_invoice(5000.0, move_type="out_refund")
        credit_note.action_post()
        invoice = self._posted_invoice(self.sub, 5000.0)
        refund = self.unreconciled_payment(credit_note.amount_total, txn="R")
        refund.amount = -credit_note.amount_total
        wizard = Form(
            self.env["cs.billing.reconcile"]
            .with_user(self.accountant)
            .with_context(active_model="cs.billing.event", active_id=refund.id)
        )
        self.assertEqual(wizard.move_type, "out_refund")
        self.assertEqual(wizard.invoice_id, credit_note)  # never the invoice of that amount
        wizard.save().action_register()
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(refund.payment_id.payment_type, "outbound")
        self.assertFalse(refund.to_reconcile)
        # A payment is never registered on a credit note.
        other_note = self.draft_invoice(100.0, move_type="out_refund")
        other_note.action_post()
        payment = self.unreconciled_payment(other_note.amount_total, txn="P")
        journal = payment._payment_journal(self.env.company)
        with self.assertRaisesRegex(UserError, "refund on a credit note"):
            self.env["cs.billing.reconcile"].create(
                {"event_id": payment.id, "invoice_id": other_note.id, "journal_id": journal.id}
            ).action_register()
        self.assertTrue(payment.to_reconcile)
