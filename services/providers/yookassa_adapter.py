# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""YooKassa (ЮKassa): notifications are unsigned, so trust comes from two checks.

1. The source IP is in YooKassa's published networks (the official ``yookassa``
   SDK's ``SecurityHelper``), or in the account's own allow-list when set.
2. Before acting, the payment or refund is fetched again through YooKassa's API
   (``Payment.find_one`` / ``Refund.find_one``) and only the API's answer is used.

Source: YooKassa API docs (webhooks) and the yookassa SDK, see ../shared/PROVIDERS.md.
Our subscription reference travels in the payment's ``metadata``.
"""

import json
import threading
from contextlib import contextmanager
from datetime import datetime

from .common import AuthenticityError
from .common import BillingEvent
from .common import PayloadError
from .common import text_ref

HANDLED = {"payment.succeeded", "payment.canceled", "refund.succeeded"}
KNOWN = HANDLED | {"payment.waiting_for_capture", "payment_method.active"}
METADATA_KEYS = ("subscription_ref", "subscription", "cs_subscription")

_sdk_lock = threading.Lock()


def ip_trusted(address, allowlist_checker=None):
    """YooKassa's networks from the SDK, or the account's own allow-list if given."""
    if allowlist_checker is not None:
        return allowlist_checker(address)
    from yookassa.domain.common.security_helper import SecurityHelper  # noqa: PLC0415

    try:
        return SecurityHelper().is_ip_trusted(address)
    except Exception:  # noqa: BLE001 - an unparsable address is simply not trusted
        return False


def parse(payload):
    """Read a notification body; raise PayloadError when it is not one."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("The body is not JSON.") from exc
    if not isinstance(data, dict) or data.get("type") != "notification":
        raise PayloadError("Not a YooKassa notification: 'type' must be 'notification'.")
    event = data.get("event")
    obj = data.get("object")
    if not isinstance(event, str) or not isinstance(obj, dict) or not obj.get("id"):
        raise PayloadError("Not a YooKassa notification: 'event' and 'object.id' are required.")
    return BillingEvent(
        external_id="%s:%s" % (event, text_ref(obj["id"], "object.id")),
        event_type=event,
        created=_timestamp(obj.get("captured_at") or obj.get("created_at")),
        payload=data,
    )


def _timestamp(value):
    if not value:
        return 0
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def fetch(event_type, object_id, shop_id, secret_key):
    """The object as YooKassa's API returns it now (a plain dict)."""
    if not shop_id or not secret_key:
        raise AuthenticityError("The YooKassa shop ID and secret key are not configured.")
    from yookassa import Configuration  # noqa: PLC0415
    from yookassa import Payment  # noqa: PLC0415
    from yookassa import Refund  # noqa: PLC0415

    finder = Refund.find_one if event_type.startswith("refund.") else Payment.find_one
    with _sdk_lock:  # the SDK keeps its credentials in module globals
        Configuration.configure(shop_id, secret_key)
        obj = finder(object_id)
    return to_dict(obj)


class ApiRefusal(Exception):
    """YooKassa refused or could not take a request; the message is YooKassa's."""


@contextmanager
def _asking(shop_id, secret_key):
    """The SDK set up for this shop, for the calls made within: YooKassa's refusal and
    an unreachable API are raised as :class:`ApiRefusal`, with YooKassa's words."""
    from yookassa import Configuration  # noqa: PLC0415
    from yookassa.domain.exceptions import ApiError  # noqa: PLC0415

    try:
        with _sdk_lock:  # the SDK keeps its credentials in module globals
            Configuration.configure(shop_id, secret_key)
            yield
    except ApiError as exc:
        content = getattr(exc, "content", None) or {}
        raise ApiRefusal(content.get("description") or str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise ApiRefusal(str(exc)) from exc


def receipt(description, amount, currency, vat_code, email=None, phone=None, tax_system=None):
    """The 54-FZ receipt of a payment for one service paid in full: what a shop that
    sends its receipts through YooKassa must attach to every payment.

    :raises PayloadError: no email or phone to send the receipt to
    """
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if not email and not 10 <= len(digits) <= 15:
        raise PayloadError("A receipt needs the customer's email or phone number.")
    value = {
        "customer": {"email": email} if email else {"phone": digits},
        "items": [
            {
                "description": (description or "")[:128],  # the API's limit
                "quantity": "1.00",
                "amount": {"value": "%.2f" % amount, "currency": currency},
                "vat_code": int(vat_code),
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
    }
    if tax_system:
        value["tax_system_code"] = int(tax_system)
    return value


def create_payment(shop_id, secret_key, amount, currency, description, metadata, return_url,
                   idempotency_key, email=None, receipt=None, save_payment_method=False,
                   payment_method_id=None):  # fmt: skip
    """Create a one-stage payment paid on YooKassa's page; return it (a plain dict) with
    ``confirmation.confirmation_url``, the link for the customer. ``save_payment_method``
    asks YooKassa to keep the customer's card for autopayments; with
    ``payment_method_id`` (a saved card) the payment is an autopayment instead: charged
    at once, with no page and no link (YooKassa's "Autopayments" guide).

    The idempotency key makes a repeated call return the same payment, never a second.
    """
    if not shop_id or not secret_key:
        raise AuthenticityError("The YooKassa shop ID and secret key are not configured.")
    from yookassa import Payment  # noqa: PLC0415

    params = {
        "amount": {"value": "%.2f" % amount, "currency": currency},
        "capture": True,
        "description": (description or "")[:128],  # the API's limit
        "metadata": metadata,
    }
    if payment_method_id:
        params["payment_method_id"] = payment_method_id
    else:
        params["confirmation"] = {"type": "redirect", "return_url": return_url}
        if save_payment_method:
            params["save_payment_method"] = True
    if email:
        params["merchant_customer_id"] = email
    if receipt:
        params["receipt"] = receipt
    with _asking(shop_id, secret_key):
        obj = Payment.create(params, idempotency_key)
    return to_dict(obj)


SAVED_PAGES = 50  # pages of 100 payments read at most by one search for saved cards


def saved_card_payments(shop_id, secret_key, since, pages=SAVED_PAGES):
    """The succeeded payments created since ``since`` (an ISO 8601 time) whose payment
    method is saved for autopayments, newest first (plain dicts, as the API lists
    them: ``GET /v3/payments``, 100 a page, ``next_cursor``), and whether pages were
    left unread after ``pages``.

    :raises ApiRefusal: YooKassa refused the request or could not be reached
    """
    if not shop_id or not secret_key:
        raise AuthenticityError("The YooKassa shop ID and secret key are not configured.")
    from yookassa import Payment  # noqa: PLC0415

    params = {"status": "succeeded", "limit": 100, "created_at.gte": since}
    found = []
    for _page in range(pages):
        with _asking(shop_id, secret_key):
            response = Payment.list(params)
        for payment in map(to_dict, response.items or []):
            method = payment.get("payment_method")
            if isinstance(method, dict) and method.get("saved") and method.get("id"):
                found.append(payment)
        if not response.next_cursor:
            return found, False
        params["cursor"] = response.next_cursor
    return found, True


def to_dict(obj):
    if isinstance(obj, dict):
        return obj
    return json.loads(json.dumps(dict(obj), default=str))


def amount_of(obj):
    amount = obj.get("amount") or {}
    try:
        return float(amount.get("value") or 0), (amount.get("currency") or "").upper()
    except (TypeError, ValueError):
        return 0.0, (amount.get("currency") or "").upper()


def subscription_ref(obj):
    metadata = obj.get("metadata") or {}
    for key in METADATA_KEYS:
        if metadata.get(key):
            return str(metadata[key])
    return None
