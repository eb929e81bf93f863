# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import ipaddress
import json
import secrets
from collections import Counter
from collections import defaultdict
from datetime import timedelta
from typing import NamedTuple

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..services.providers import cloudpayments_adapter
from ..services.providers import robokassa_adapter
from .sale_subscription import RENEWED_BY_PROVIDER

# Providers whose notifications may fail to come: payments still waiting are asked of
# their API (``cs.billing.payment.request._ask_<provider>``).
ASKED_PROVIDERS = ("yookassa", "robokassa")
PROVIDERS = [
    ("stripe", "Stripe"),
    ("yookassa", "YooKassa"),
    ("kaspi", "Kaspi.kz"),
    ("cloudpayments", "CloudPayments"),
    ("robokassa", "Robokassa"),
]
STRIPE_API_VERSION = "2025-03-31.basil"
MAX_AUTOPAY_RETRIES = 8  # retries of a declined autopayment, reminders of a link: at most


class WebhookSettings(NamedTuple):
    """What the webhook controller needs of an account, cached per worker."""

    id: int
    provider: str
    active: bool
    company_id: int
    webhook_secret: str
    api_key: str
    url_token: str
    hash_algorithm: str  # Robokassa's checksum algorithm
    networks: tuple  # ipaddress networks of the allow-list; empty: no restriction

    def ip_allowed(self, address):
        """Whether ``address`` is in the allow-list (an empty list allows all)."""
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _parse_networks(text):
    return tuple(
        ipaddress.ip_network(line.strip(), strict=False)
        for line in (text or "").splitlines()
        if line.strip()
    )


# A provider's published source addresses, the allow-list of an account without its own.
DEFAULT_NETWORKS = {"robokassa": _parse_networks("\n".join(robokassa_adapter.NETWORKS))}


class CsBillingAccount(models.Model):
    _name = "cs.billing.account"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Billing Provider Account"
    _order = "company_id, name"
    _check_company_auto = True  # the payment journal is of the account's company

    # Tracked: who changed what in the settings (never the secrets, whose values
    # would land in the chatter).
    name = fields.Char(required=True, tracking=True)
    provider = fields.Selection(PROVIDERS, required=True, tracking=True)
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user if self.env.user.active else False,
        domain=[("share", "=", False)],
        tracking=True,
        help="Gets a to-do when events of this account fail for good (after their retries).",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(
        "res.currency",
        string="Default Currency",
        default=lambda self: self.env.company.currency_id,
    )
    active = fields.Boolean(default=True, tracking=True)
    subscription_ids = fields.One2many("sale.subscription", "billing_account_id")
    subscription_count = fields.Integer(compute="_compute_subscription_count")
    event_ids = fields.One2many("cs.billing.event", "account_id", string="Events")
    event_problem_count = fields.Integer(compute="_compute_event_problem_count")
    last_event_at = fields.Datetime(
        string="Last Event",
        compute="_compute_last_event_at",
        help="When the provider's last notification was received: after pasting the "
        "webhook URL, send a test event from the provider and see it arrive here.",
    )
    stripe_event_api_version = fields.Char(
        string="Events Sent In",
        compute="_compute_stripe_event_api_version",
        help="Stripe: the API version of the newest event received, the shape Stripe "
        "writes it in (the webhook endpoint's version).",
    )
    note = fields.Text()
    # Secrets: readable and writable by administrators only (field-level groups).
    webhook_secret = fields.Char(
        string="Webhook Signing Secret",
        groups="base.group_system",
        copy=False,
        help="Stripe: the endpoint's signing secret (whsec_...). "
        "Robokassa: the shop's Password #2.",
    )
    provider_account_ref = fields.Char(
        string="Shop / Merchant ID",
        tracking=True,
        help="YooKassa: the shop ID (shopId). Kaspi: the service (merchant) ID. "
        "CloudPayments: the site's Public ID. Robokassa: the shop identifier (MerchantLogin).",
    )
    api_key = fields.Char(
        string="API Secret Key",
        groups="base.group_system",
        copy=False,
        help="Secret key used to call the provider's API. Stripe (optional): a restricted "
        "key that may read charges and subscriptions, to match disputes to their customer and "
        "to count discounts and tiered prices in the MRR (Stripe's events name a "
        "subscription's discounts by id only and carry no tiers). "
        "CloudPayments: the "
        "site's API password, which also signs its notifications (Content-HMAC). Robokassa: "
        "the shop's Password #1, which signs payment links.",
    )
    url_token = fields.Char(
        string="URL Token",
        groups="base.group_system",
        copy=False,
        default=lambda self: secrets.token_urlsafe(24),
        help="Random token some providers must send in the webhook URL (defence in depth).",
    )
    stripe_api_version = fields.Char(
        string="Stripe API Version",
        default=STRIPE_API_VERSION,
        help="Pin the webhook endpoint to this version in the Stripe dashboard.",
    )
    robokassa_invoice_start = fields.Integer(
        string="Number Links From",
        tracking=True,
        help="Robokassa: payment links get their invoice number (InvId) from Odoo, this "
        "number plus the link's own, so that a payment whose ResultURL notification did not "
        "come is asked of Robokassa (OpStateExt) an hour later and applied. Choose a number "
        "far above any the shop's own site gives its orders (1000000000 is far above most). "
        "Empty: Robokassa numbers the payments, and links are known by their notification "
        "alone.",
    )
    robokassa_hash = fields.Selection(
        [(name, name.upper()) for name in robokassa_adapter.HASHES],
        string="Checksum Algorithm",
        default="md5",
        help="Robokassa: the hash algorithm chosen in the shop's technical settings.",
    )
    receipt_vat_code = fields.Selection(
        [
            ("1", "No VAT"),
            ("2", "VAT 0%"),
            ("3", "VAT 10%"),
            ("4", "VAT 20%"),
            ("5", "VAT 10/110"),
            ("6", "VAT 20/120"),
            ("7", "VAT 5%"),
            ("8", "VAT 7%"),
            ("9", "VAT 5/105"),
            ("10", "VAT 7/107"),
            ("11", "VAT 22%"),
            ("12", "VAT 22/122"),
        ],
        string="Receipt VAT Rate",
        help="YooKassa and Robokassa: when the shop sends its receipts (54-FZ) through the "
        "provider, the VAT rate of the service on the receipt of each payment link. Empty: "
        "payment links carry no receipt.",
    )
    failure_payment_link = fields.Boolean(
        string="Payment Link on Failure",
        help="YooKassa, Robokassa: when a payment fails (a declined autopayment, for "
        "Robokassa), a new payment link for the amount is made and put in the "
        "failed-payment email, so that the client pays at once, with this card or another "
        "(with Autopayments on, paying it saves the card for them again). Off: the email "
        "says that a link follows, and the CSM sends one.",
    )
    autopayments = fields.Boolean(
        tracking=True,
        help="YooKassa, Robokassa: payment links save the customer's card for autopayments, "
        "and each invoice posted for a subscription with a saved card is charged to it within "
        "a minute, with no link and no email. A charge the provider declines is a failed "
        "payment (the failed-payment email; with a new link when Payment Link on Failure is "
        "on, YooKassa); a charge the provider refuses to make becomes a payment link when "
        "Payment Links for Invoices is on. Both providers enable autopayments for a shop on "
        "request; Robokassa's need Number Links From.",
    )
    autopay_retry_days = fields.Char(
        string="Retry Declined Charges After (Days)",
        default="3, 5, 7",
        tracking=True,
        help="Autopayments: the days to wait before each new charge of a saved card the "
        "provider declined for a reason that can pass, each counted from the attempt before "
        "(YooKassa: insufficient funds, the bank unavailable, a limit reached, a decline "
        "without details; Robokassa tells no reason: every decline). 3, 5, 7: the card is "
        "charged again 3 days after the decline, 5 days after that and 7 days after that, "
        "each decline emailed to the client with the next date. Never retried: a card the "
        "customer revoked or that expired, suspected fraud, a blocked card (YooKassa), an "
        "invoice paid or cancelled meanwhile. Empty: no retry.",
    )
    unheard_after_days = fields.Integer(
        string="Silence Alert After (Days)",
        default=2,
        tracking=True,
        help="Stripe and CloudPayments renew subscriptions on their own schedule and tell "
        "of each renewal. When a running subscription's renewal was due this many days "
        "ago and the provider has told nothing of it since (no payment, no failure, no "
        "new period), its webhooks may no longer arrive: the daily job gives the "
        "responsible one to-do listing those subscriptions, done by itself once each is "
        "heard of. 0: no alert.",
    )
    unheard_count = fields.Integer(string="Renewals Unheard Of", compute="_compute_unheard_count")
    link_reminder_days = fields.Char(
        string="Remind After (Days)",
        tracking=True,
        help="Kaspi QR, YooKassa and Robokassa: the days after which a payment link of an "
        "invoice still unpaid is emailed to the customer again as a reminder, each counted "
        "from the email before. 3, 7: a reminder 3 days after the link, another 7 days after "
        "that. An invoice sent to the Kaspi app is reminded the same way, by an email saying "
        "it awaits the customer there. Not for a link that expired, was withdrawn or paid, "
        "nor for autopayments. Empty: no reminder.",
    )
    invoice_payment_links = fields.Boolean(
        string="Payment Links for Invoices",
        tracking=True,
        help="Kaspi QR, YooKassa and Robokassa: when an invoice of a subscription billed "
        "through this account is posted (by hand or by the subscriptions' invoicing), a "
        "payment link for what it asks is made within a minute and emailed to the customer. "
        "A link the provider refuses is marked Error and the CSM gets a to-do with the reason.",
    )
    kaspi_remote_invoices = fields.Boolean(
        string="Invoice to the Kaspi App",
        tracking=True,
        help="Kaspi: renewals are sent as an invoice to the customer's phone in the Kaspi "
        "app (Kaspi's remote payment) instead of a link, when the customer's contact has a "
        "Kazakh mobile number (else a link is made and emailed as before). The customer "
        "pays with one tap; nothing is emailed. An invoice paid or cancelled another way "
        "is taken back at Kaspi, so it cannot be paid twice. Needs the Kaspi device token.",
    )
    receipt_tax_system = fields.Selection(
        [
            ("1", "General (OSN)"),
            ("2", "Simplified, income (USN)"),
            ("3", "Simplified, income minus expenses (USN)"),
            ("4", "Imputed income (ENVD)"),
            ("5", "Unified agricultural tax (ESHN)"),
            ("6", "Patent"),
        ],
        string="Receipt Tax System",
        help="YooKassa and Robokassa: the taxation system on the receipt, when the shop's "
        "online cash register has several.",
    )
    ip_allowlist = fields.Text(
        string="Allowed IPs",
        tracking=True,
        help="One IP address or network (CIDR) per line. Empty: no IP restriction, "
        "except for YooKassa and Robokassa, whose published addresses are then used.",
    )
    # Where the API secret is sent: as sensitive as the secret itself (a changed URL
    # would hand the secret to another server), so administrators only too.
    kaspi_api_url = fields.Char(
        string="Kaspi QR API URL",
        groups="base.group_system",
        help="Base URL of the Kaspi QR partner API given by Kaspi with your contract.",
    )
    kaspi_device_token = fields.Char(
        string="Kaspi Device Token",
        groups="base.group_system",
        copy=False,
        help="The DeviceToken Kaspi gave when the trade point's device was registered "
        "(device/register): invoices to the Kaspi app are made and taken back with it.",
    )
    cloudpayments_api_url = fields.Char(
        string="CloudPayments API URL",
        groups="base.group_system",
        default=cloudpayments_adapter.DEFAULT_API_URL,
        help="Base URL of the CloudPayments API of your contract.",
    )
    robokassa_api_url = fields.Char(
        string="Robokassa URL",
        groups="base.group_system",
        default=robokassa_adapter.DEFAULT_API_URL,
        help="Robokassa's address for your shop: https://auth.robokassa.ru (Russia) "
        "or https://auth.robokassa.kz (Kazakhstan).",
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Payment Journal",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
        check_company=True,
        tracking=True,
        help="Journal of the payments registered on invoices from this provider.",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url", string="Webhook URL")
    notification_urls = fields.Text(
        compute="_compute_webhook_url",
        string="Notification URLs",
        help="CloudPayments: one URL per notification type, to paste in the site's settings.",
    )

    @api.depends("provider")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for account in self:
            account.notification_urls = False
            if not account.id or not account.provider:
                account.webhook_url = False
                continue
            account.webhook_url = "%s/customer_success/webhook/%s/%d" % (
                base.rstrip("/"),
                account.provider,
                account.id,
            )
            if account.provider == "cloudpayments":
                account.notification_urls = "\n".join(
                    "%s: %s?notification=%s" % (kind.capitalize(), account.webhook_url, kind)
                    for kind in cloudpayments_adapter.NOTIFICATIONS
                    if kind != "check"
                )

    @api.depends("subscription_ids")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["sale.subscription"]._read_group(
                [("billing_account_id", "in", self.ids)], ["billing_account_id"], ["__count"]
            )
        )
        for account in self:
            account.subscription_count = counts.get(account, 0)

    def _compute_unheard_count(self):
        counts = Counter(
            account_id
            for account_id, _sub_id in self.env["sale.subscription"]._cs_unheard_rows(
                account_ids=self.ids
            )
        )
        for account in self:
            account.unheard_count = counts.get(account.id, 0)

    def _compute_last_event_at(self):
        last = dict(
            self.env["cs.billing.event"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["create_date:max"]
            )
        )
        for account in self:
            account.last_event_at = last.get(account, False)

    def _compute_stripe_event_api_version(self):
        """The ``api_version`` of each Stripe account's newest event (one row each)."""
        self.stripe_event_api_version = False
        stripe_accounts = self.filtered(lambda a: a.provider == "stripe" and a.id)
        if not stripe_accounts:
            return
        self.env["cs.billing.event"].flush_model(["account_id", "payload"])
        self.env.cr.execute(
            SQL(
                """
                SELECT account.id,
                       (SELECT payload FROM cs_billing_event
                         WHERE account_id = account.id ORDER BY id DESC LIMIT 1)
                  FROM unnest(%s) AS account(id)
                """,
                stripe_accounts.ids,
            )
        )
        newest = dict(self.env.cr.fetchall())
        for account in stripe_accounts:
            try:
                version = json.loads(newest.get(account.id) or "{}").get("api_version")
            except (ValueError, AttributeError):
                version = None
            account.stripe_event_api_version = version if isinstance(version, str) else False

    def _compute_event_problem_count(self):
        counts = dict(
            self.env["cs.billing.event"]._read_group(
                [("account_id", "in", self.ids), ("state", "in", ("failed", "unmatched"))],
                ["account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.event_problem_count = counts.get(account, 0)

    def _cs_alert_todo(self, user, summary):
        """The responsible's open to-do with this summary on the account, if any."""
        self.ensure_one()
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", self._name),
                ("res_id", "=", self.id),
                ("user_id", "=", user.id),
                ("summary", "=", summary),
            ],
            limit=1,
        )

    def _cs_told(self, title, message, kind="info", sticky=False):
        """``message`` posted on the account, and the notification that shows it to the
        user who pressed a button (kind: success, info or warning)."""
        self.ensure_one()
        self.message_post(body=message)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "type": kind, "sticky": sticky},
        }

    def _cs_keep_alert(self, summary, note, feedback, create=True):
        """Bring the responsible's to-do ``summary`` on this account up to date: its
        note is ``note``, and it is created when there is none (if ``create``); with no
        note (nothing left to do), it is marked done with ``feedback``. Each argument
        is a function of an environment in the responsible's language and time zone:
        one to-do per account and summary, in the language of the person it is for."""
        self.ensure_one()
        user = self.user_id
        if not user.active:
            return
        env = self.with_context(lang=user.lang, tz=user.tz).env
        title = summary(env)
        todo = self._cs_alert_todo(user, title)
        text = note(env)
        if not text:
            if todo:
                todo.action_feedback(feedback=feedback(env))
        elif todo:
            if todo.note != text:
                todo.note = text
        elif create:
            self.activity_schedule(
                "mail.mail_activity_data_todo", summary=title, note=text, user_id=user.id
            )

    MISSED_DAYS = 7  # days a missed notification is counted on the responsible's to-do

    def _sync_missed_alert(self, listed=5):
        """YooKassa, Robokassa: the responsible's to-do about the payments of the last
        ``MISSED_DAYS`` days whose notification did not come (asked of the API
        instead), brought up to date, and done once none is left in that time."""
        self.ensure_one()
        missed = self.env["cs.billing.payment.request"].search(
            [
                ("account_id", "=", self.id),
                (
                    "notification_missed_at",
                    ">=",
                    fields.Datetime.now() - timedelta(days=self.MISSED_DAYS),
                ),
            ],
            order="id desc",
        )

        def note(env):
            if not missed:
                return None
            intro = env._(
                "Payments of %(account)s whose notification from %(provider)s did not come in "
                "the last %(days)s days: %(count)s. Each was asked of %(provider)s an hour "
                "after it was made, and its outcome applied; until notifications come again, "
                "payments are known an hour late.",
                account=self.name,
                provider=self._provider_name(env),
                days=self.MISSED_DAYS,
                count=len(missed),
            )
            items = Markup().join(
                Markup("<li>%s — %s</li>") % (request.display_name, request.external_id)
                for request in missed[:listed]
            )
            return Markup("<p>%s</p><p>%s</p><ul>%s</ul>") % (
                intro,
                self._missed_check(env),
                items,
            )

        self._cs_keep_alert(
            lambda env: env._(
                "%(provider)s notifications missed", provider=self._provider_name(env)
            ),
            note,
            lambda env: env._("No notification missed for %(days)s days.", days=self.MISSED_DAYS),
        )

    def _provider_name(self, env=None):
        """The account's provider as the reader of ``env`` (else the user) calls it:
        ЮKassa in Russian."""
        env = env or self.env
        return dict(self._fields["provider"]._description_selection(env)).get(self.provider, "")

    def _missed_check(self, env):
        """What to check at the provider when its notifications do not come (each
        provider that is asked about its payments says it in its own file)."""
        return ""

    @api.model
    def _alert_missed_notifications(self):
        """The daily look: to-dos about missed notifications of accounts that missed
        none for ``MISSED_DAYS`` days are done."""
        for account in self.search([("provider", "in", ASKED_PROVIDERS)]):
            account._sync_missed_alert()

    @api.constrains("provider", "receipt_tax_system")
    def _check_receipt_tax_system(self):
        for account in self:
            if (
                account.provider == "robokassa"
                and account.receipt_tax_system
                and account.receipt_tax_system not in robokassa_adapter.RECEIPT_SNO
            ):
                raise ValidationError(
                    self.env._(
                        "Robokassa's receipts have no %(tax_system)s tax system: choose "
                        "another, or none.",
                        tax_system=dict(
                            self._fields["receipt_tax_system"]._description_selection(self.env)
                        )[account.receipt_tax_system],
                    )
                )

    @api.constrains("robokassa_invoice_start", "autopayments")
    def _check_robokassa_invoice_start(self):
        for account in self:
            if account.robokassa_invoice_start < 0:
                raise ValidationError(
                    self.env._("Number Links From is an invoice number: positive, or empty.")
                )
            if (
                account.provider == "robokassa"
                and account.autopayments
                and not account.robokassa_invoice_start
            ):
                raise ValidationError(
                    self.env._(
                        "Robokassa charges a saved card again under an invoice number the shop "
                        "gives: fill Number Links From to charge saved cards."
                    )
                )

    @api.constrains("autopay_retry_days", "link_reminder_days")
    def _check_day_schedules(self):
        for account in self:
            account._autopay_retry_schedule()
            account._link_reminder_schedule()

    def _autopay_retry_schedule(self):
        """The days between the attempts of :attr:`autopay_retry_days`, as integers."""
        return self._day_schedule("autopay_retry_days")

    def _link_reminder_schedule(self):
        """The days between the reminders of :attr:`link_reminder_days`, as integers."""
        return self._day_schedule("link_reminder_days")

    def _day_schedule(self, field_name):
        """A field of days separated by commas (``3, 5, 7``), as integers.

        :raises ValidationError: anything else, said with the field's label
        """
        self.ensure_one()
        text = (self[field_name] or "").replace(";", ",")
        days = [part.strip() for part in text.split(",") if part.strip()]
        if (
            not all(day.isdigit() and 1 <= int(day) <= 60 for day in days)
            or len(days) > MAX_AUTOPAY_RETRIES
        ):
            raise ValidationError(
                self.env._(
                    "%(field)s: %(value)r is not a list of whole days between 1 and 60 "
                    "separated by commas (at most %(count)s), such as 3, 5, 7.",
                    field=self._fields[field_name]._description_string(self.env),
                    value=self[field_name],
                    count=MAX_AUTOPAY_RETRIES,
                )
            )
        return [int(day) for day in days]

    @api.constrains("unheard_after_days")
    def _check_unheard_after_days(self):
        for account in self:
            if not 0 <= account.unheard_after_days <= 60:
                raise ValidationError(
                    self.env._(
                        "Silence Alert After (Days) is a whole number of days between 1 and "
                        "60, or 0 for no alert."
                    )
                )

    @api.constrains("ip_allowlist")
    def _check_ip_allowlist(self):
        for account in self:
            for line in (account.ip_allowlist or "").splitlines():
                if line.strip():
                    try:
                        _parse_networks(line)
                    except ValueError as exc:
                        raise ValidationError(
                            self.env._(
                                "Allowed IPs: %(line)r is not an IP address or network.",
                                line=line.strip(),
                            )
                        ) from exc

    # ------------------------------------------------------------------
    # What the webhook reads on every request: one cache entry per account
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        accounts = super().create(vals_list)
        self.env.registry.clear_cache()
        return accounts

    def write(self, vals):
        res = super().write(vals)
        self.env.registry.clear_cache()  # other workers drop theirs on their next request
        if vals.get("api_key"):
            self._cs_close_api_key_todos()
        return res

    @staticmethod
    def _cs_api_key_summary(env):
        """The summary of the responsible's to-do asking for a Stripe API key."""
        return env._("Stripe API key needed")

    def _cs_close_api_key_todos(self):
        """The responsible's "Stripe API key needed" to-do is done once a key is entered."""
        for account in self.filtered(lambda a: a.provider == "stripe" and a.user_id.active):
            user = account.user_id
            env = account.with_context(lang=user.lang).env
            todo = account._cs_alert_todo(user, self._cs_api_key_summary(env))
            if todo:
                todo.action_feedback(feedback=env._("API key entered."))

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

    @api.model
    @tools.ormcache("account_id")
    def _webhook_settings(self, account_id):
        """The account's webhook settings, or None for an unknown id.

        Read with SQL, not through the ORM: the webhook has no user, and the
        cache saves the provider's requests a query each.
        """
        if not 0 < account_id < 2**31:  # any number fits the URL, not the column
            return None
        self.env["cs.billing.account"].flush_model(
            [
                "provider",
                "active",
                "company_id",
                "webhook_secret",
                "api_key",
                "url_token",
                "robokassa_hash",
                "ip_allowlist",
            ]
        )
        self.env.cr.execute(
            """
            SELECT id, provider, active, company_id, webhook_secret, api_key, url_token,
                   robokassa_hash, ip_allowlist
              FROM cs_billing_account
             WHERE id = %s
            """,
            [account_id],
        )
        row = self.env.cr.fetchone()
        if not row:
            return None
        return WebhookSettings(
            *row[:4],
            row[4] or "",
            row[5] or "",
            row[6] or "",
            row[7] or "md5",
            _parse_networks(row[8]) or DEFAULT_NETWORKS.get(row[1], ()),
        )

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_oca.sale_subscription_action"
        )
        action["domain"] = [("billing_account_id", "=", self.id)]
        action["context"] = {"default_billing_account_id": self.id}
        return action

    def action_view_unheard(self):
        action = self.action_view_subscriptions()
        action["domain"] = [("billing_account_id", "=", self.id), ("cs_renewal_unheard", "=", True)]
        return action

    @api.model
    def _alert_unheard(self, today=None):
        """The daily look for renewals unheard of (see
        ``sale.subscription._cs_unheard_rows``): on each account that Stripe or
        CloudPayments renews subscriptions for, one to-do for its responsible listing
        them, brought up to date each day, and done once every one is heard of."""
        today = today or fields.Date.context_today(self)
        unheard = defaultdict(list)
        for account_id, sub_id in self.env["sale.subscription"]._cs_unheard_rows(today=today):
            unheard[account_id].append(sub_id)
        Sub = self.env["sale.subscription"]
        for account in self.search([("provider", "in", RENEWED_BY_PROVIDER)]):
            account._sync_unheard_alert(Sub.browse(unheard.get(account.id, [])))

    def _cs_unheard_diagnosis(self):
        """What the provider itself says is wrong with how it sends this account's
        events, for the to-do about renewals unheard of (the Stripe account asks
        Stripe); None when it says nothing."""
        return None

    def _sync_unheard_alert(self, subscriptions, listed=10):
        """The responsible's to-do about ``subscriptions``, whose renewals are unheard
        of: the oldest ``listed`` of them named."""
        self.ensure_one()

        def note(env):
            if not subscriptions:
                return None
            provider = self._provider_name(env)
            intro = env._(
                "%(provider)s has told nothing of the renewals of these subscriptions of "
                "%(account)s, due more than %(days)s days ago (no payment, no failure, no new "
                "period): %(count)s.",
                provider=provider,
                count=len(subscriptions),
                account=self.name,
                days=self.unheard_after_days,
            )
            if self.last_event_at:
                last = env._(
                    "The newest event of this account came on %(moment)s.",
                    moment=tools.format_datetime(env, self.last_event_at, tz=env.context.get("tz")),
                )
            else:
                last = env._("No event of this account has come yet.")
            if self.provider == "stripe":
                check = env._(
                    "Its webhooks may no longer arrive. In Stripe's dashboard (Developers → "
                    "Webhooks), check that the endpoint is enabled, that its URL is this "
                    "account's Webhook URL, that its signing secret is the one stored here, that "
                    "it sends the events the README lists, and whether its recent deliveries "
                    "failed."
                )
            else:
                check = env._(
                    "Its notifications may no longer arrive. In CloudPayments' back office "
                    "(Settings → Notifications), check that Pay, Fail and Recurrent go to this "
                    "account's notification URLs, and that the API secret stored here is the "
                    "site's current one."
                )
            items = Markup().join(
                Markup("<li>%s — %s — %s</li>")
                % (
                    sub.display_name,
                    sub.commercial_partner_id.display_name,
                    env._("due %(day)s", day=tools.format_date(env, sub.next_payment_date)),
                )
                for sub in subscriptions[:listed]
            )
            if len(subscriptions) > listed:
                items += Markup("<li>%s</li>") % env._(
                    "and %(count)s more: the account's Unheard Of button lists them all.",
                    count=len(subscriptions) - listed,
                )
            said = self.with_env(env)._cs_unheard_diagnosis()
            if said:
                check = Markup("<strong>%s</strong> %s") % (said, check)
            return Markup("<p>%s %s</p><p>%s</p><ul>%s</ul>") % (intro, last, check, items)

        self._cs_keep_alert(
            lambda env: env._("Renewals unheard of"),
            note,
            lambda env: env._("Every renewal is heard of now."),
        )

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_success.cs_billing_event_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_regenerate_url_token(self):
        self.ensure_one()
        self.sudo().url_token = secrets.token_urlsafe(24)
