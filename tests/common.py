# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import importlib.util
from datetime import date

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase
from odoo.tests import new_test_user


def load_migration(version, step="post-migrate"):
    """The addon's migration script of ``version`` (``18.0.1.7.0``) as a module, to call
    its ``migrate(cr, version)`` on a test database."""
    path = "%s/migrations/%s/%s.py" % (get_module_path("customer_success"), version, step)
    spec = importlib.util.spec_from_file_location("cs_%s_%s" % (step, version), path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


class CustomerSuccessMixin:
    """Plans, currencies with known rates and helpers; no demo data needed."""

    @classmethod
    def _setup_customer_success(cls):
        cls.env = cls.env(
            context=dict(
                cls.env.context,
                tracking_disable=True,
                mail_create_nolog=True,
                no_reset_password=True,
            )
        )
        cls.company = cls.env.company
        cls.company.cs_churn_timing = "cancellation"
        cls.usd = cls.company.currency_id
        cls.kzt = cls.env.ref("base.KZT")
        cls.kzt.active = True
        if cls.usd == cls.kzt:  # pragma: no cover - the test database is in USD
            raise AssertionError("tests expect a non-KZT company currency")
        cls.env["res.currency.rate"].search([("currency_id", "=", cls.kzt.id)]).unlink()
        # 500 KZT per company-currency unit from 2026-01-01, 400 from 2026-06-01.
        cls.env["res.currency.rate"].create(
            [
                {
                    "currency_id": cls.kzt.id,
                    "name": "2026-01-01",
                    "rate": 500.0,
                    "company_id": cls.company.id,
                },
                {
                    "currency_id": cls.kzt.id,
                    "name": "2026-06-01",
                    "rate": 400.0,
                    "company_id": cls.company.id,
                },
            ]
        )
        Pricelist = cls.env["product.pricelist"]
        cls.pricelist_usd = Pricelist.create({"name": "CS USD", "currency_id": cls.usd.id})
        cls.pricelist_kzt = Pricelist.create({"name": "CS KZT", "currency_id": cls.kzt.id})
        cls.product = cls.env["product.product"].create(
            {
                "name": "CS Pro plan",
                "type": "service",
                "list_price": 100.0,
                "subscribable": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.stage_running = cls.env.ref("subscription_oca.subscription_stage_in_progress")
        cls.stage_closed = cls.env.ref("subscription_oca.subscription_stage_closed")
        cls.stage_draft = cls.env.ref("subscription_oca.subscription_stage_draft")
        cls.monthly = cls._template("months", 1)
        cls.yearly = cls._template("years", 1)
        cls.customer = cls.env["res.partner"].create({"name": "Vostok LLP", "is_company": True})
        cls.cs_user = new_test_user(
            cls.env,
            login="cs_user",
            groups="customer_success.group_cs_user",
            name="Aigerim CSM",
        )
        cls.cs_manager = new_test_user(
            cls.env,
            login="cs_manager",
            groups="customer_success.group_cs_manager",
            name="Head of CS",
        )

    @classmethod
    def _template(cls, rule_type, interval, name=None):
        return cls.env["sale.subscription.template"].create(
            {
                "name": name or "%s x%s" % (rule_type, interval),
                "recurring_rule_type": rule_type,
                "recurring_interval": interval,
            }
        )

    @classmethod
    def _subscription(
        cls,
        partner=None,
        template=None,
        price=100.0,
        qty=1.0,
        discount=0.0,
        currency=None,
        start=True,
        **vals,
    ):
        currency = currency or cls.usd
        pricelist = cls.pricelist_kzt if currency == cls.kzt else cls.pricelist_usd
        sub = cls.env["sale.subscription"].create(
            {
                "partner_id": (partner or cls.customer).id,
                "template_id": (template or cls.monthly).id,
                "pricelist_id": pricelist.id,
                "date_start": vals.pop("date_start", date(2026, 3, 1)),
                "sale_subscription_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": cls.product.id,
                            "product_uom_qty": qty,
                            "price_unit": price,
                            "discount": discount,
                        },
                    )
                ],
                **vals,
            }
        )
        if start:
            sub.stage_id = cls.stage_running
        return sub

    def _posted_invoice(self, subscription, amount, invoice_date=date(2026, 9, 1)):
        """A posted customer invoice of ``amount`` for ``subscription``, in its currency."""
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": subscription.partner_id.id,
                "subscription_id": subscription.id,
                "currency_id": subscription.currency_id.id,
                "invoice_date": invoice_date,
                "invoice_line_ids": [(0, 0, {"name": "Pro", "quantity": 1, "price_unit": amount})],
            }
        )
        invoice.action_post()
        return invoice

    @classmethod
    def _setup_billing(cls, name, provider, email="finance@altyn.example", **account_vals):
        """The customer, with its CSM and billing email, and a billing account of
        ``provider`` with its webhook URL: what every provider's HTTP tests start from."""
        cls._setup_customer_success()
        cls.customer.csm_id = cls.cs_user
        cls.customer.email = email
        cls.account = cls.env["cs.billing.account"].create(
            {"name": name, "provider": provider, **account_vals}
        )
        cls.url = "/customer_success/webhook/%s/%d" % (provider, cls.account.id)
        cls.Event = cls.env["cs.billing.event"]

    def movements(self, partner=None):
        return self.env["cs.mrr.movement"].search(
            [("partner_id", "=", (partner or self.customer).id)], order="id"
        )


class CustomerSuccessCase(CustomerSuccessMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_customer_success()
