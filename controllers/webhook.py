# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hmac
import json
import logging
from collections import Counter

from odoo import http
from odoo.http import request

from ..services.providers import cloudpayments_adapter
from ..services.providers import robokassa_adapter
from ..services.providers import stripe_adapter
from ..services.providers import yookassa_adapter
from ..services.providers.common import MAX_BODY
from ..services.providers.common import AuthenticityError
from ..services.providers.common import PayloadError
from ..services.providers.common import WebhookError

_logger = logging.getLogger(__name__)

# Refused requests per (provider, reason): logged, never stored.
REFUSED = Counter()


def _answer(status, **body):
    return request.make_response(
        json.dumps(body), headers=[("Content-Type", "application/json")], status=status
    )


class BillingWebhook(http.Controller):
    """Thin controller: size and account checks, provider verification, store, acknowledge.

    Processing happens later in the inbox cron (``cs.billing.event``), so the
    provider gets its 2xx within milliseconds and a slow effect never times out.
    """

    @http.route(
        "/customer_success/webhook/<string:provider>/<int:account_id>",
        type="http",
        # No Odoo user: providers authenticate by signature, IP and URL token below,
        # and everything here runs as sudo on the account the URL names.
        auth="none",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        readonly=False,
        # Signatures cover the raw bytes: keep a form body before Odoo parses it.
        cs_raw_body=True,
    )
    def billing_webhook(self, provider, account_id, **_params):
        httprequest = request.httprequest
        # Kaspi calls with GET; Robokassa's ResultURL may be set to GET.
        if httprequest.method != "POST" and provider not in ("kaspi", "robokassa"):
            return self._refuse(provider, 405, "Only POST is accepted.")
        if (httprequest.content_length or 0) > MAX_BODY:
            return self._refuse(provider, 413, "Body larger than 1 MB.")
        body = httprequest.get_data(cache=True)
        if len(body) > MAX_BODY:
            return self._refuse(provider, 413, "Body larger than 1 MB.")
        Account = request.env["cs.billing.account"].sudo()
        settings = Account._webhook_settings(account_id)
        if not settings or not settings.active or settings.provider != provider:
            return self._refuse(provider, 404, "Unknown billing account.")
        if not self._ip_trusted(settings, httprequest.remote_addr):
            return self._refuse(provider, 403, "This IP address is not allowed.")
        receive = getattr(self, "_receive_%s" % provider, None)
        if receive is None:
            return self._refuse(provider, 404, "This provider has no webhook here yet.")
        try:
            return receive(Account.browse(settings.id), settings, httprequest, body)
        except WebhookError as exc:
            return self._refuse(provider, exc.status, str(exc))

    def _ip_trusted(self, settings, address):
        if settings.provider == "yookassa" and not settings.networks:
            return yookassa_adapter.ip_trusted(address)  # YooKassa's published networks
        return settings.ip_allowed(address)

    def _refuse(self, provider, status, message):
        REFUSED[provider, status] += 1
        _logger.warning(
            "Billing webhook %s refused (%s): %s [%d refused so far]",
            provider, status, message, REFUSED[provider, status],
        )  # fmt: skip
        return _answer(status, error=message)

    # ------------------------------------------------------------------
    def _receive_stripe(self, account, settings, httprequest, body):
        if (httprequest.mimetype or "") != "application/json":
            raise PayloadError("Content-Type must be application/json.")
        event = stripe_adapter.verify(
            body, httprequest.headers.get("Stripe-Signature"), settings.webhook_secret
        )
        if not isinstance(event.payload, dict):  # pragma: no cover - verify() guarantees it
            raise AuthenticityError("Not an event.")
        Event = request.env["cs.billing.event"].sudo()
        if event.event_type in stripe_adapter.HANDLED:
            record, created = Event._store(account, event)
        else:
            # Acknowledge what we do not use, or Stripe retries it for three days.
            record, created = Event._store_ignored(
                account, event, lambda env: env._("Event type not used by Customer Success.")
            )
        return _answer(200, received=True, duplicate=not created, id=record.id)

    def _receive_yookassa(self, account, settings, httprequest, body):
        if (httprequest.mimetype or "") != "application/json":
            raise PayloadError("Content-Type must be application/json.")
        event = yookassa_adapter.parse(body)
        Event = request.env["cs.billing.event"].sudo()
        if event.event_type in yookassa_adapter.HANDLED:
            record, created = Event._store(account, event)
        elif event.event_type in yookassa_adapter.KNOWN:
            record, created = Event._store_ignored(
                account, event, lambda env: env._("Event type not used by Customer Success.")
            )
        else:
            raise PayloadError("Unknown YooKassa event %r." % event.event_type)
        # YooKassa retries anything but 200 for a day.
        return _answer(200, received=True, duplicate=not created, id=record.id)

    def _receive_kaspi(self, account, settings, httprequest, body):
        token = httprequest.args.get("token") or ""
        expected = settings.url_token
        if not expected or not hmac.compare_digest(token, expected):
            raise AuthenticityError("Missing or wrong URL token.")
        params = {**httprequest.args.to_dict(), **httprequest.form.to_dict()}
        xml = request.env["cs.billing.event"].sudo()._kaspi_handle(account, params)
        return request.make_response(xml, headers=[("Content-Type", "application/xml")])

    def _receive_cloudpayments(self, account, settings, httprequest, body):
        # Signature first: nothing of an unsigned body is read.
        cloudpayments_adapter.verify(
            body, httprequest.headers.get("Content-HMAC"), settings.api_key
        )
        notification = (httprequest.args.get("notification") or "").lower()
        if notification not in cloudpayments_adapter.NOTIFICATIONS:
            raise PayloadError(
                "Add ?notification=pay|fail|confirm|refund|recurrent|cancel to the URL."
            )
        params = cloudpayments_adapter.parse(
            body, httprequest.mimetype, httprequest.mimetype_params.get("charset")
        )
        if notification != "check":
            # Check asks whether a payment may go ahead: the CRM does not gate
            # payments, so it is accepted and nothing is stored.
            event = cloudpayments_adapter.to_event(notification, params)
            Event = request.env["cs.billing.event"].sudo()
            if notification == "cancel":  # an authorisation voided: no money moved
                Event._store_ignored(
                    account, event, lambda env: env._("Authorisation cancelled: no money moved.")
                )
            else:
                Event._store(account, event)
        # CloudPayments retries anything but {"code": 0}.
        return _answer(200, code=0)

    def _receive_robokassa(self, account, settings, httprequest, body):
        params = robokassa_adapter.parse(body, httprequest.mimetype, httprequest.args.items())
        robokassa_adapter.verify(params, settings.webhook_secret, settings.hash_algorithm)
        event = robokassa_adapter.to_event(params)
        Event = request.env["cs.billing.event"].sudo()
        if robokassa_adapter.is_test(params):
            # A test-mode payment moves no money; its own key keeps the shop's
            # later live payment of the same invoice number from being a duplicate.
            event.external_id = "test:%s" % event.external_id
            Event._store_ignored(
                account, event, lambda env: env._("Test payment (IsTest=1): no money moved.")
            )
        else:
            Event._store(account, event)
        # Robokassa takes the notification as delivered on this answer only.
        return request.make_response(
            "OK%s" % params["InvId"], headers=[("Content-Type", "text/plain; charset=utf-8")]
        )
