# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Users read Russian (and Kazakh): every string reaches them translated.

Odoo merges a language's .po with the module's .pot when it loads it, and drops
what the .pot lacks: a stale .pot silently untranslates every newer string.
"""

import json

import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase
from odoo.tests import tagged
from odoo.tools.misc import formatLang
from odoo.tools.translate import TranslationModuleReader

from ..models.cs_billing_event_yookassa import _decline
from ..services.providers import stripe_adapter
from .common import CustomerSuccessMixin
from .common import load_migration


@tagged("post_install", "-at_install", "customer_success")
class TestTranslations(CustomerSuccessMixin, TransactionCase):
    def _file(self, name):
        return polib.pofile("%s/i18n/%s" % (get_module_path("customer_success"), name))

    def test_catalogues_are_complete_and_in_step(self):
        template = {entry.msgid for entry in self._file("customer_success.pot")}
        for lang in ("ru", "kk"):
            with self.subTest(lang=lang):
                catalogue = [entry for entry in self._file("%s.po" % lang) if not entry.obsolete]
                msgids = {entry.msgid for entry in catalogue}
                self.assertEqual(msgids - template, set(), "in %s.po, not in the .pot" % lang)
                self.assertEqual(template - msgids, set(), "in the .pot, not in %s.po" % lang)
                untranslated = [e.msgid for e in catalogue if not e.msgstr or "fuzzy" in e.flags]
                self.assertEqual(untranslated, [])

    def test_the_pot_holds_every_string_of_the_module(self):
        """What Odoo's own export finds in the code, views and data is in the .pot: a
        string added without a fresh export would reach users in English."""
        exported = {
            row[4] for row in TranslationModuleReader(self.env.cr, modules=["customer_success"])
        }
        template = {entry.msgid for entry in self._file("customer_success.pot")}
        self.assertEqual(sorted(exported - template), [], "missing from the .pot: export it")

    def test_russian_reaches_the_user(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        ru = self.env(context={"lang": "ru_RU"})
        field = ru["ir.model.fields"]._get("cs.billing.account", "receipt_vat_code")
        self.assertEqual(field.field_description, "Ставка НДС в чеке")
        self.assertEqual(ru._("Billing events failed"), "Платёжные события не обработаны")
        template = ru.ref("customer_success.mail_template_payment_link")
        self.assertIn("Оплатить", template.body_html)
        reminder = ru.ref("customer_success.mail_template_payment_link_reminder")
        self.assertIn("ещё не оплачен", reminder.body_html)
        self.assertIn("напоминание", reminder.subject)
        app = ru.ref("customer_success.mail_template_kaspi_app_reminder")
        self.assertIn("ждёт вас в приложении Kaspi", app.body_html)
        self.assertIn("ждёт вас в приложении Kaspi", app.subject)
        # subscription_oca has no Russian of its own: the addon's i18n_extra gives it.
        field = ru["ir.model.fields"]._get("sale.subscription", "recurring_next_date")
        self.assertEqual(field.field_description, "Дата следующего счёта")
        stage = ru.ref("subscription_oca.subscription_stage_in_progress")
        self.assertEqual(stage.name, "В работе")
        form = ru.ref("subscription_oca.sale_subscription_form")
        self.assertIn("Закрыть подписку", form.arch_db)
        # A provider's reason code reads as words, with what to do about it.
        reason, advice = _decline("insufficient_funds", "payment_network")
        self.assertEqual(
            reason(ru), "ЮKassa: недостаточно средств — отклонено банком или платёжной системой"
        )
        self.assertEqual(
            advice(ru), "Попросите клиента пополнить баланс или оплатить другой картой."
        )

    def test_amounts_in_notes_read_as_in_odoo(self):
        """Amounts in to-dos and notes are grouped the way of the note's language, as
        Odoo's formatLang writes them, and a language's edited separators apply."""
        self.env["res.lang"]._activate_lang("ru_RU")
        Event = self.env["cs.billing.event"]
        kzt, usd = self.env.ref("base.KZT"), self.env.ref("base.USD")
        for lang in ("ru_RU", "en_US"):
            env = self.env(context={"lang": lang})
            for amount in (0, 0.005, 2.675, -1234.5, 450000, 999.995, 1234567.891):
                for currency in (kzt, usd, self.env.ref("base.JPY")):
                    with self.subTest(lang=lang, amount=amount, currency=currency.name):
                        self.assertEqual(
                            Event._money(amount, currency, env),
                            formatLang(env, amount, digits=currency.decimal_places),
                        )
        ru = self.env(context={"lang": "ru_RU"})
        self.assertEqual(Event._money(450000, kzt, ru), "450\N{NO-BREAK SPACE}000,00")
        self.env["res.lang"]._lang_get("en_US").thousands_sep = " "
        self.assertEqual(Event._money(450000, usd), "450 000.00")

    def test_kazakh_reaches_the_user_on_subscription_screens_too(self):
        self.env["res.lang"]._activate_lang("kk_KZ")
        self.env.ref("base.module_customer_success")._update_translations("kk_KZ")
        kk = self.env(context={"lang": "kk_KZ"})
        self.assertEqual(kk._("Billing events failed"), self._kk("Billing events failed"))
        # subscription_oca has no Kazakh of its own: the addon's i18n_extra gives it.
        field = kk["ir.model.fields"]._get("sale.subscription", "recurring_next_date")
        self.assertEqual(field.field_description, "Келесі шот күні")
        stage = kk.ref("subscription_oca.subscription_stage_in_progress")
        self.assertEqual(stage.name, "Жұмыста")
        form = kk.ref("subscription_oca.sale_subscription_form")
        self.assertIn("Жазылымды жабу", form.arch_db)
        # The two catalogues of subscription_oca's terms hold the same strings.
        extra = "%s/i18n_extra/%%s.po" % get_module_path("customer_success")
        ru, kk_po = (polib.pofile(extra % lang) for lang in ("ru", "kk"))
        self.assertEqual({e.msgid for e in ru}, {e.msgid for e in kk_po})
        self.assertFalse([e.msgid for e in kk_po if not e.msgstr])

    def _kk(self, msgid):
        return next(e.msgstr for e in self._file("kk.po") if e.msgid == msgid)

    def test_upgrade_replaces_translations_whose_english_changed(self):
        """Odoo's upgrade keeps a database's translation of a label whose English
        changed; the 1.5 migration loads the catalogues over them."""
        self.env.invalidate_all()  # an earlier test's cache may still hold ru_RU as active
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        field = self.env["ir.model.fields"]._get("cs.billing.event", "account_id")
        field.with_context(lang="ru_RU").field_description = "Клиент"  # 1.3's "Account"
        load_migration("18.0.1.5.0").migrate(self.env.cr, "18.0.1.4.0")
        field.invalidate_recordset()
        self.assertEqual(field.with_context(lang="ru_RU").field_description, "Платёжный аккаунт")
        self.assertEqual(field.field_description, "Billing Account")

    def _migration_1_6(self):
        return load_migration("18.0.1.6.0")

    def test_upgrade_replaces_the_failed_payment_email_nobody_edited(self):
        """1.5's email promised a retry that YooKassa, CloudPayments or Kaspi never
        make; its template is noupdate, so the 1.6 migration replaces an unedited
        body, Russian included, and leaves an edited one alone."""
        self.env.invalidate_all()  # an earlier test's cache may still hold ru_RU as active
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        migration = self._migration_1_6()
        template = self.env.ref("customer_success.mail_template_payment_failed")
        # As 1.5's data file left it (written by the loader, not through the sanitizer).
        self.env.cr.execute(
            "UPDATE mail_template SET body_html = %s WHERE id = %s",
            [
                json.dumps(
                    {"en_US": migration.SHIPPED_1_5, "ru_RU": "<p>мы скоро повторим попытку</p>"}
                ),
                template.id,
            ],
        )
        template.invalidate_recordset()
        migration.migrate(self.env.cr, "18.0.1.5.0")
        template.invalidate_recordset()
        self.assertIn("cs_next_attempt", template.with_context(lang="en_US").body_html)
        self.assertIn("мы пришлём", template.with_context(lang="ru_RU").body_html)
        self.assertTrue(
            self.env["ir.model.data"]
            .search([("module", "=", "customer_success"), ("name", "=", migration.XMLID)])
            .noupdate
        )
        # A body someone edited is theirs.
        template.with_context(lang="en_US").body_html = "<p>Our own words</p>"
        migration.migrate(self.env.cr, "18.0.1.5.0")
        template.invalidate_recordset()
        self.assertEqual(template.with_context(lang="en_US").body_html, "<p>Our own words</p>")

    def test_upgrade_to_1_9_gives_the_kaspi_link_s_end_in_kazakhstan_time(self):
        """1.8's payment-link email gave the link's end in the sender's time zone, or
        UTC; the 1.9 migration replaces a body nobody edited, Russian included."""
        self.env.invalidate_all()  # an earlier test's cache may still hold ru_RU as active
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        migration = load_migration("18.0.1.9.0")
        template = self.env.ref("customer_success.mail_template_payment_link")
        self.env.cr.execute(
            "UPDATE mail_template SET body_html = %s WHERE id = %s",
            [
                json.dumps({"en_US": migration.SHIPPED_1_8, "ru_RU": "<p>ссылка</p>"}),
                template.id,
            ],
        )
        template.invalidate_recordset()
        migration.migrate(self.env.cr, "18.0.1.8.0")
        template.invalidate_recordset()
        for lang in ("en_US", "ru_RU"):
            self.assertIn("Asia/Almaty", template.with_context(lang=lang).body_html)
        self.assertIn("Ссылка действует до", template.with_context(lang="ru_RU").body_html)
        template.with_context(lang="en_US").body_html = "<p>Our own words</p>"
        migration.migrate(self.env.cr, "18.0.1.8.0")
        template.invalidate_recordset()
        self.assertEqual(template.with_context(lang="en_US").body_html, "<p>Our own words</p>")

    def test_crons_write_in_the_offices_language(self):
        """Odoo runs crons without a language: what they write for everyone (the
        event's result, chatter) follows the installation's, the admin's; a CSM's
        to-do reads in that CSM's own language."""
        self.env.invalidate_all()  # an earlier test's cache may still hold ru_RU as active
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        self.env.ref("base.user_admin").lang = "ru_RU"
        self._setup_billing("Stripe", "stripe", webhook_secret="whsec_lang")
        self.customer.name = "Восток"
        self.cs_user.lang = "en_US"  # the customer's CSM reads English
        self._subscription(billing_account_id=self.account.id, external_subscription_ref="sub_ru")
        self.cs_manager.lang = "ru_RU"
        other = self.env["res.partner"].create(
            {"name": "Altyn", "is_company": True, "csm_id": self.cs_manager.id}
        )
        self._subscription(
            partner=other, billing_account_id=self.account.id, external_subscription_ref="sub_kz"
        )
        for ref in ("sub_ru", "sub_kz"):
            invoice = {
                "id": "in_%s" % ref, "object": "invoice", "currency": "usd", "amount_due": 1234567,
                "amount_remaining": 1234567, "attempt_count": 1, "customer": "cus_ru",
                "parent": {"subscription_details": {"subscription": ref}},
            }  # fmt: skip
            body = json.dumps(
                {
                    "id": "evt_%s" % ref,
                    "object": "event",
                    "type": "invoice.payment_failed",
                    "created": 1790000000,
                    "data": {"object": invoice},
                }  # fmt: skip
            ).encode()
            event = stripe_adapter.verify(
                body, stripe_adapter.sign(body, "whsec_lang"), "whsec_lang", tolerance=None
            )
            self.Event._store(self.account, event)
        cron_env = self.env(context={})  # as the scheduler calls it: no language
        self.assertEqual(cron_env["res.company"]._cs_cron_lang(), "ru_RU")
        cron_env["cs.billing.event"]._cron_process_events()
        stored = self.Event._stored(self.account, "evt_sub_ru")
        self.assertEqual(stored.state, "processed", stored.error)
        self.assertEqual(
            stored.result, "Платёж не прошёл (Stripe, попытка 1), к оплате 12\xa0345,67 USD"
        )
        todos = self.env["mail.activity"].search([("res_model", "=", "sale.subscription")])
        notes = {todo.summary: todo.note for todo in todos}
        # The English-reading CSM's to-do, amounts grouped the English way.
        self.assertIn(
            "12,345.67 USD from Восток failed (Stripe, attempt 1)", notes["Payment failed: Восток"]
        )
        self.assertIn(
            "Платёж 12&nbsp;345,67 USD от Altyn не прошёл (Stripe, попытка 1)",
            notes["Платёж не прошёл: Altyn"],
        )
