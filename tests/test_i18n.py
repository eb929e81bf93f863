# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Users read Russian (and Kazakh): every string reaches them translated.

Odoo merges a language's .po with the module's .pot when it loads it, and drops
what the .pot lacks: a stale .pot silently untranslates every newer string.
"""

import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install", "customer_success")
class TestTranslations(TransactionCase):
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

    def test_russian_reaches_the_user(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env.ref("base.module_customer_success")._update_translations("ru_RU")
        ru = self.env(context={"lang": "ru_RU"})
        field = ru["ir.model.fields"]._get("cs.billing.account", "receipt_vat_code")
        self.assertEqual(field.field_description, "Ставка НДС в чеке")
        self.assertEqual(ru._("Billing events failed"), "Платёжные события не обработаны")
        template = ru.ref("customer_success.mail_template_payment_link")
        self.assertIn("Оплатить", template.body_html)
