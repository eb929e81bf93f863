# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""CloudPayments (RU/KZ): HMAC-signed notifications, then the API decides.

Sources: CloudPayments' developer documentation (notifications, the ``payments/get``
and ``subscriptions/get`` API methods) and the public test vector of the
``undr/cloud_payments`` client's specs, see ../shared/PROVIDERS.md.

Trust comes from two checks, as with YooKassa:

1. ``Content-HMAC``: base64 of HMAC-SHA256 with the site's API secret over the
   raw body as sent (form-encoded by default, JSON if so configured).
2. Before acting, the transaction or subscription is fetched again through the
   API (HTTP Basic: Public ID and API secret) and only the API's copy is used.
   A notification carries no timestamp of its signature, so a replayed body can
   never do more than the API confirms.

One URL per notification type, ``?notification=pay|fail|confirm|refund|recurrent|cancel|check``.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from datetime import timezone
from urllib.parse import parse_qsl

import requests

from .. import mrr as mrr_service
from .common import AuthenticityError
from .common import BillingEvent
from .common import PayloadError
from .common import decimal_amount

DEFAULT_API_URL = "https://api.cloudpayments.ru"
API_TIMEOUT = 20  # seconds

# Notification types a site can send to its URLs (``?notification=…``).
NOTIFICATIONS = ("check", "pay", "fail", "confirm", "refund", "recurrent", "cancel")
# Transaction statuses that name a money outcome, as in the API's ``Model.Status``.
PAYMENT_STATUSES = ("Completed", "Authorized", "Declined", "Cancelled")
SUBSCRIPTION_STATUSES = ("Active", "PastDue", "Cancelled", "Rejected", "Expired")
# Subscription ``Interval`` → the OCA template's rule type.
INTERVALS = {"Day": "days", "Week": "weeks", "Month": "months", "Year": "years"}


class ApiError(Exception):
    """The CloudPayments API could not answer; the event is retried."""


def sign(body, secret):
    """The ``Content-HMAC`` header CloudPayments sends for ``body`` (tests, tools)."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body, header, secret):
    """Check ``Content-HMAC`` over the raw body.

    :raises AuthenticityError: no secret configured, header missing or not matching
    """
    if not secret:
        raise AuthenticityError("No API secret is configured for this account.")
    if not header:
        raise AuthenticityError("Missing Content-HMAC header.")
    try:
        received = base64.b64decode(header.strip(), validate=True)
    except ValueError as exc:
        raise AuthenticityError("Content-HMAC is not base64.") from exc
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(received, expected):
        raise AuthenticityError("Content-HMAC does not match the body.")


def parse(body, mimetype, charset=None):
    """The notification's parameters as a dict of strings.

    CloudPayments posts ``application/x-www-form-urlencoded`` by default and JSON when
    the site is set to it; the charset is UTF-8 or Windows-1251 as configured.
    """
    charset = (charset or "utf-8").lower()
    try:
        text = body.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise PayloadError("The body is not valid %s." % charset) from exc
    if mimetype == "application/x-www-form-urlencoded":
        try:
            return dict(
                parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), encoding=charset)
            )
        except ValueError as exc:
            raise PayloadError("The form body cannot be read.") from exc
    if mimetype == "application/json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PayloadError("The body is not JSON.") from exc
        if not isinstance(data, dict):
            raise PayloadError("The JSON body must be an object.")
        return {key: "" if value is None else value for key, value in data.items()}
    raise PayloadError("Content-Type must be application/x-www-form-urlencoded or JSON.")


def to_event(notification, params):
    """The inbox event of a verified notification (``check`` is answered, not stored).

    Dedup keys: a payment notification's transaction and status (the Pay of a one-stage
    payment and the Confirm of a two-stage one are the same "Completed" outcome, so one
    effect), a refund's or cancellation's transaction, a subscription's id and the
    digest of its notified state (a re-delivery is the same body).
    """
    if notification == "recurrent":
        ref = str(params.get("Id") or "")
        status = params.get("Status")
        if not ref or status not in SUBSCRIPTION_STATUSES:
            raise PayloadError("A Recurrent notification needs 'Id' and a known 'Status'.")
        digest = hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()[:16]
        return BillingEvent(
            external_id="recurrent:%s:%s" % (ref, digest),
            event_type="recurrent",
            created=timestamp(params.get("LastTransactionDate") or params.get("StartDate")),
            payload=params,
            object_ref=ref,
        )
    txn = str(params.get("TransactionId") or "")
    if not txn.isdigit():
        raise PayloadError("'TransactionId' is required and must be a number.")
    amount(params)  # raises on a malformed amount
    if notification == "refund":
        if not str(params.get("PaymentTransactionId") or "").isdigit():
            raise PayloadError("A Refund notification needs 'PaymentTransactionId'.")
        key = "refund:%s" % txn
    elif notification == "cancel":
        key = "cancel:%s" % txn
    else:  # pay / confirm / fail
        status = params.get("Status") or ("Declined" if notification == "fail" else "")
        if notification == "fail" and status != "Declined":
            raise PayloadError("A Fail notification must have the status Declined.")
        if notification in ("pay", "confirm") and status not in ("Completed", "Authorized"):
            raise PayloadError("A %s notification must be Completed or Authorized." % notification)
        key = "%s:%s" % (txn, status)
    return BillingEvent(
        external_id=key,
        event_type=notification,
        created=timestamp(params.get("DateTime")),
        payload=params,
        object_ref=str(params.get("SubscriptionId") or ""),
    )


def timestamp(value):
    """Unix seconds of a CloudPayments date (``yyyy-MM-dd HH:mm:ss`` or ISO, UTC)."""
    if not value:
        return 0
    text = str(value).strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            continue
    return 0


def amount(params, key="Amount"):
    """A decimal amount in major units (CloudPayments sends ``123.00``), 0 when absent."""
    return decimal_amount(params.get(key), key, default=0.0)


def subscription_mrr(model):
    """Monthly amount of a subscription: ``Amount`` every ``Period`` × ``Interval``."""
    rule_type = INTERVALS.get(model.get("Interval"))
    if not rule_type or model.get("Status") not in ("Active", "PastDue"):
        return 0.0
    return mrr_service.monthly_amount(amount(model), rule_type, int(model.get("Period") or 1))


# ----------------------------------------------------------------------
# API: the copy of the object to trust
# ----------------------------------------------------------------------
def call(base_url, public_id, secret, method, payload):
    """POST an API method; return its ``Model``.

    :raises AuthenticityError: credentials missing
    :raises ApiError: the API could not be reached or answered no model
    """
    if not public_id or not secret:
        raise AuthenticityError("The CloudPayments Public ID and API secret are not configured.")
    url = "%s/%s" % ((base_url or DEFAULT_API_URL).rstrip("/"), method)
    try:
        response = requests.post(url, json=payload, auth=(public_id, secret), timeout=API_TIMEOUT)
    except requests.RequestException as exc:
        raise ApiError("CloudPayments API unreachable: %s" % exc) from exc
    if response.status_code != 200:
        raise ApiError("CloudPayments API answered HTTP %s on %s." % (response.status_code, method))
    try:
        answer = response.json()
    except ValueError as exc:
        raise ApiError("CloudPayments API answered no JSON on %s." % method) from exc
    model = answer.get("Model") if isinstance(answer, dict) else None
    if not isinstance(model, dict):  # a declined payment still has its model
        raise ApiError(
            "CloudPayments API: %s" % ((answer or {}).get("Message") or "no object returned")
        )
    return model


def fetch_payment(base_url, public_id, secret, transaction_id):
    return call(base_url, public_id, secret, "payments/get", {"TransactionId": int(transaction_id)})


def fetch_subscription(base_url, public_id, secret, subscription_id):
    return call(base_url, public_id, secret, "subscriptions/get", {"Id": subscription_id})
