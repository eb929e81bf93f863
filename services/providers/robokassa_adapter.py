# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Robokassa (RU/KZ): the ResultURL notification of a successful payment.

Sources: Robokassa's documentation ("Уведомления и переадресация": ResultURL,
its parameters and checksum; "XML интерфейсы": ``OpStateExt``), see
../shared/PROVIDERS.md.

Robokassa notifies only successful payments, once per invoice (``InvId``), with
``OutSum``, ``InvId``, ``SignatureValue`` and the shop's own ``Shp_*`` parameters,
by POST (form) or GET as the shop is set. Trust comes from three checks:

1. ``SignatureValue`` = hash of ``OutSum:InvId:Password#2[:Shp_a=…:Shp_b=…]``
   (``Shp_*`` sorted by name), hex, any case; the hash algorithm is the one chosen
   in the shop's technical settings (MD5 by default).
2. The source IP is one of Robokassa's (185.59.216.65, 185.59.217.65), or in the
   account's own allow-list when set.
3. Before acting, the invoice's state is asked of the ``OpStateExt`` XML interface
   (signed ``MerchantLogin:InvoiceID:Password#2``); only state 100 (paid) is a
   payment. A notification carries no timestamp, so a replayed one can do no
   more than the API confirms, and the inbox keeps one event per ``InvId``.

The answer Robokassa expects is the text ``OK{InvId}``.

Payment links of shops that fiscalise through Robokassa (54-FZ: cloud cash
register, Robochecks) carry the ``Receipt`` parameter: the receipt's JSON
URL-encoded once, signed in that form between ``InvId`` and Password #1, and
URL-encoded once more in the link (Robokassa's documentation "Фискализация"; its
official WordPress module and PHP SDK build it the same way).
"""

import hashlib
import hmac
import json
from urllib.parse import parse_qsl
from urllib.parse import quote_plus
from urllib.parse import urlencode

import requests
from lxml import etree

from .common import AuthenticityError
from .common import BillingEvent
from .common import PayloadError
from .common import decimal_amount

DEFAULT_API_URL = "https://auth.robokassa.ru"
PAY_PATH = "/Merchant/Index.aspx"
STATE_PATH = "/Merchant/WebService/Service.asmx/OpStateExt"
RECURRING_PATH = "/Merchant/Recurring"  # a child charge of a card saved by a payment
API_TIMEOUT = 20  # seconds
# Robokassa's notification addresses (documentation, "Уведомления и переадресация").
NETWORKS = ("185.59.216.65/32", "185.59.217.65/32")
# Checksum algorithms of the shop's technical settings that Python's hashlib always has.
HASHES = ("md5", "sha1", "sha256", "sha384", "sha512")
# Our own parameters given to the payment form; Robokassa returns them, signed.
SHP_SUBSCRIPTION = "Shp_subscription"
SHP_INVOICE = "Shp_invoice"
SHP_REQUEST = "Shp_request"  # our payment link (cs.billing.payment.request)

# Receipt ``tax`` per VAT rate code of the account (YooKassa's 1-12, shared by both
# Russian providers), and ``sno`` per tax system code; Robokassa has no ENVD (4).
RECEIPT_TAX = {
    "1": "none",
    "2": "vat0",
    "3": "vat10",
    "4": "vat20",
    "5": "vat110",
    "6": "vat120",
    "7": "vat5",
    "8": "vat7",
    "9": "vat105",
    "10": "vat107",
    "11": "vat22",
    "12": "vat122",
}
RECEIPT_SNO = {"1": "osn", "2": "usn_income", "3": "usn_income_outcome", "5": "esn", "6": "patent"}

# OpStateExt ``State/Code``: 5 initiated, 10 cancelled (not paid), 20 on hold, 50 paid
# and being credited to the shop, 60 refused after payment (money returned to the
# buyer), 80 suspended, 100 paid.
PAID = 100
FINAL_UNPAID = (10, 60)  # the money never reached the shop: nothing to record


class ApiError(Exception):
    """The OpStateExt interface could not answer; the event is retried."""


class InvoiceNotFound(ApiError):
    """OpStateExt knows no operation of this invoice number (its result code 3): the
    customer has not opened the payment page yet."""


def checksum(parts, password, algorithm="md5", shp=None):
    """Robokassa's checksum of ``parts`` with ``password`` and the ``Shp_*`` parameters."""
    if algorithm not in HASHES:
        raise AuthenticityError("Unsupported checksum algorithm %r." % algorithm)
    items = [*(str(part) for part in parts), password]
    items += ["%s=%s" % (key, value) for key, value in sorted((shp or {}).items())]
    return hashlib.new(algorithm, ":".join(items).encode("utf-8")).hexdigest()


def shp_params(params):
    return {key: value for key, value in params.items() if key.lower().startswith("shp_")}


def sign(params, password, algorithm="md5"):
    """``params`` with the ``SignatureValue`` Robokassa sends (tests, tools)."""
    value = checksum(
        [params["OutSum"], params["InvId"]], password, algorithm, shp_params(params)
    ).upper()
    return dict(params, SignatureValue=value)


def verify(params, password, algorithm="md5"):
    """Check a ResultURL notification's ``SignatureValue``.

    :raises AuthenticityError: no password configured, checksum missing or not matching
    """
    if not password:
        raise AuthenticityError("No Password #2 is configured for this account.")
    received = str(params.get("SignatureValue") or "").strip().lower()
    if not received:
        raise AuthenticityError("Missing SignatureValue.")
    if "OutSum" not in params or "InvId" not in params:
        raise AuthenticityError("OutSum and InvId are required.")
    expected = checksum(
        [params["OutSum"], params["InvId"]], password, algorithm, shp_params(params)
    )
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise AuthenticityError("SignatureValue does not match.")


def receipt(description, amount, vat_code, tax_system=None):
    """The 54-FZ receipt of a payment for one service paid in full, URL-encoded as it
    is signed (PHP's ``urlencode`` of the JSON, as Robokassa's own modules do).

    :raises PayloadError: a VAT rate or tax system Robokassa has no code for
    """
    if vat_code not in RECEIPT_TAX:
        raise PayloadError("Robokassa has no receipt VAT rate %r." % vat_code)
    if tax_system and tax_system not in RECEIPT_SNO:
        raise PayloadError("Robokassa has no receipt tax system %r." % tax_system)
    value = {
        "items": [
            {
                "name": (description or "")[:128],  # the receipt's limit
                "quantity": 1,
                "sum": round(float(amount), 2),
                "payment_method": "full_payment",
                "payment_object": "service",
                "tax": RECEIPT_TAX[vat_code],
            }
        ],
    }
    if tax_system:
        value = {"sno": RECEIPT_SNO[tax_system], **value}
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return quote_plus(text, safe="").replace("~", "%7E")


def payment_url(
    base_url,
    login,
    password,
    algorithm,
    out_sum,
    description,
    shp,
    email=None,
    receipt=None,
    inv_id=None,
    recurring=False,
):
    """The address of Robokassa's payment page for ``out_sum`` (Password #1), with the
    URL-encoded ``receipt`` of :func:`receipt` if any; ``recurring``: the payment is a
    "mother" payment, whose card the shop may charge again (:func:`charge_recurring`).

    Without ``inv_id`` Robokassa numbers the payment itself, so a link never collides
    with the invoice numbers of the shop's own site; with it (a number the account
    keeps apart from the site's), the payment can be asked of OpStateExt. Our
    ``Shp_*`` parameters come back, signed, in the ResultURL notification.
    """
    if not login or not password:
        raise AuthenticityError("The Robokassa shop login and Password #1 are not configured.")
    amount_text = "%.2f" % out_sum
    shp = {key: str(value) for key, value in shp.items() if value}
    # MerchantLogin:OutSum:InvId[:Receipt]:Password#1[:Shp_…], InvId empty if not given.
    signed = [login, amount_text, str(inv_id or "")] + ([receipt] if receipt else [])
    params = {
        "MerchantLogin": login,
        "OutSum": amount_text,
        **({"InvId": str(inv_id)} if inv_id else {}),
        "Description": (description or "")[:100],  # the form's limit
        "SignatureValue": checksum(signed, password, algorithm, shp),
        "Culture": "ru",
        **shp,
    }
    if receipt:
        params["Receipt"] = receipt  # encoded once more with the query string
    if email:
        params["Email"] = email
    if recurring:
        params["Recurring"] = "true"  # not signed
    return "%s%s?%s" % ((base_url or DEFAULT_API_URL).rstrip("/"), PAY_PATH, urlencode(params))


def charge_recurring(
    base_url, login, password, algorithm, inv_id, previous_inv_id, out_sum, description, shp,
    receipt=None,
):  # fmt: skip
    """Charge again the card of the "mother" payment ``previous_inv_id`` (documentation,
    "Периодические платежи"): a POST of the payment form's parameters, signed as a
    payment link is (Password #1; ``PreviousInvoiceID`` is not signed), under our new
    invoice number ``inv_id``. Robokassa answers ``OK{InvoiceID}`` when it takes the
    charge, which is not yet a payment: a success comes back through ResultURL, a
    decline is seen in OpStateExt only.

    :raises AuthenticityError: login or password missing
    :raises ApiError: Robokassa could not be reached or refused the charge
    """
    if not login or not password:
        raise AuthenticityError("The Robokassa shop login and Password #1 are not configured.")
    amount_text = "%.2f" % out_sum
    shp = {key: str(value) for key, value in shp.items() if value}
    signed = [login, amount_text, str(inv_id)] + ([receipt] if receipt else [])
    params = {
        "MerchantLogin": login,
        "InvoiceID": str(inv_id),
        "PreviousInvoiceID": str(previous_inv_id),
        "OutSum": amount_text,
        "Description": (description or "")[:100],
        "SignatureValue": checksum(signed, password, algorithm, shp),
        **shp,
    }
    if receipt:
        # Form-encoding encodes it once more, as the link's query string does.
        params["Receipt"] = receipt
    url = (base_url or DEFAULT_API_URL).rstrip("/") + RECURRING_PATH
    try:
        response = requests.post(url, data=params, timeout=API_TIMEOUT)
    except requests.RequestException as exc:
        raise ApiError("Robokassa unreachable: %s" % exc) from exc
    answer = (response.text or "").strip()
    if response.status_code != 200 or answer != "OK%s" % inv_id:
        raise ApiError(
            "Robokassa refused the charge (HTTP %s): %s"
            % (response.status_code, answer[:200] or "-")
        )


def parse(body, mimetype, query):
    """The notification's parameters: the form body of a POST, else the query string.

    Robokassa always sends UTF-8.
    """
    if body:
        if mimetype != "application/x-www-form-urlencoded":
            raise PayloadError("Content-Type must be application/x-www-form-urlencoded.")
        try:
            text = body.decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadError("The form body cannot be read.") from exc
    return dict(query)


def to_event(params):
    """The inbox event of a verified notification: one per invoice (``InvId``)."""
    inv_id = str(params.get("InvId") or "")
    if not inv_id.isdigit() or not 0 < int(inv_id) < 2**63:
        raise PayloadError("'InvId' must be a positive number.")
    amount(params)  # raises on a malformed amount
    return BillingEvent(
        external_id=inv_id,
        event_type="payment",
        created=0,  # no time in the notification: the time of receipt
        payload=params,
        object_ref=str(params.get(SHP_SUBSCRIPTION) or ""),
    )


def is_test(params):
    return str(params.get("IsTest") or "") == "1"


def amount(params, key="OutSum"):
    """A decimal amount (Robokassa sends ``1500.000000``)."""
    return decimal_amount(params.get(key), key)


# ----------------------------------------------------------------------
# OpStateExt: Robokassa's own word on the invoice
# ----------------------------------------------------------------------
def fetch_state(base_url, login, password, algorithm, inv_id):
    """The invoice's state as OpStateExt gives it: a dict with ``code``, ``date``,
    ``out_sum``, ``currency`` and ``method``.

    :raises AuthenticityError: login or password missing
    :raises ApiError: Robokassa could not be reached or refused the request
    """
    if not login or not password:
        raise AuthenticityError("The Robokassa shop login and Password #2 are not configured.")
    params = {
        "MerchantLogin": login,
        "InvoiceID": inv_id,
        "Signature": checksum([login, inv_id], password, algorithm),
    }
    url = (base_url or DEFAULT_API_URL).rstrip("/") + STATE_PATH
    try:
        response = requests.get(url, params=params, timeout=API_TIMEOUT)
    except requests.RequestException as exc:
        raise ApiError("Robokassa unreachable: %s" % exc) from exc
    if response.status_code != 200:
        raise ApiError("Robokassa answered HTTP %s to OpStateExt." % response.status_code)
    return parse_state(response.content)


def parse_state(content):
    """Read an OpStateExt answer (XML, any namespace)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ApiError("Robokassa answered no XML to OpStateExt.") from exc

    def text(path):
        found = root.xpath(
            "/*/" + "/".join("*[local-name()='%s']" % step for step in path.split("/"))
        )
        return (found[0].text or "").strip() if found else ""

    result = text("Result/Code")
    if result != "0":
        description = text("Result/Description") or "-"
        error = InvoiceNotFound if result == "3" else ApiError
        raise error("Robokassa OpStateExt: %s (code %s)" % (description, result or "-"))
    try:
        code = int(text("State/Code"))
    except ValueError as exc:
        raise ApiError("Robokassa OpStateExt answered no state.") from exc
    return {
        "code": code,
        "date": text("State/StateDate"),
        "out_sum": text("Info/OutSum"),
        "currency": text("Info/OutCurrLabel"),
        "method": text("Info/PaymentMethod/Code") or text("Info/IncCurrLabel"),
        "account": text("Info/IncAccount"),  # the card, masked: 411111******1111
    }
