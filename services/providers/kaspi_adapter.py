# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Kaspi.kz: the "Kaspi Платежи" check/pay protocol and the Kaspi QR partner API.

Kaspi publishes no webhook documentation; partner documents are handed out
privately. What is implemented follows ../shared/PROVIDERS.md (third-party
client code, unverified):

* check/pay (OSMP style): Kaspi calls our URL with ``command=check|pay``,
  ``txn_id``, ``account``, ``sum`` (and ``txn_date`` on pay); we answer XML
  with ``txn_id``, ``prv_txn``, ``sum``, ``result`` and ``comment``. Trust:
  Kaspi's IP allow-list plus a secret token in our URL. ``pay`` is idempotent
  on ``txn_id``.
* QR / payment link for a renewal: ``qr/create-link`` then polling
  ``payment/status/{QrPaymentId}`` until Processed, Error, Expired or cancelled;
  envelope ``{"StatusCode": 0, "Message": "OK", "Data": {...}}``.
* Remote payment (an invoice to the customer's phone in the Kaspi app):
  ``remote/create`` with ``OrganizationBin``, ``DeviceToken``, ``PhoneNumber``
  (``77011234567``), ``Amount`` and ``Comment``, answered with ``QrPaymentId``,
  polled as a link is; ``remote/cancel`` (``OrganizationBin``, ``DeviceToken``,
  ``QrPaymentId``) takes it back while it is unpaid.
"""

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from .common import PayloadError
from .common import decimal_amount

# OSMP result codes used by Kaspi Платежи.
OK = 0
TEMPORARY_ERROR = 1
BAD_ACCOUNT_FORMAT = 4
ACCOUNT_NOT_FOUND = 5
PAYMENT_FORBIDDEN = 7
AMOUNT_TOO_SMALL = 241
OTHER_ERROR = 300

_TXN_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z_/.-]{1,64}$")

# QR payment statuses, final ones mapped to what they mean for us.
QR_FINAL = {"Processed": "processed", "Error": "error", "Expired": "expired",
            "Canceled": "cancelled", "Cancelled": "cancelled"}  # fmt: skip


def final_status(status):
    """What a final status of a QR payment means for us (``QR_FINAL``), any status
    saying it was cancelled included (``RemotePaymentCanceled``: the customer turned
    down the invoice in the app); None while it waits."""
    status = str(status or "")
    return QR_FINAL.get(status) or ("cancelled" if "cancel" in status.lower() else None)


# Kazakhstan's mobile numbers: +7, then an operator's code 700-709, 747, 750-779
# (landlines have a city's code, 71x-72x: Kaspi accounts are opened on a mobile).
_KZ_MOBILE = re.compile(r"^7(?:70\d|747|7[5-7]\d)\d{7}$")


def kz_mobile(*numbers):
    """The first of ``numbers`` (as people write them: ``+7 (701) 234-56-78``,
    ``8 701 234 56 78``, ``7012345678``) that is a Kazakh mobile number, in the form
    Kaspi's remote payment takes it (``77012345678``); "" if none is."""
    for number in numbers:
        digits = re.sub(r"\D", "", number or "")
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        elif len(digits) == 10:
            digits = "7" + digits
        if _KZ_MOBILE.match(digits):
            return digits
    return ""


def phone_display(phone):
    """A number :func:`kz_mobile` gave (``77012345678``) as people read it:
    ``+7 701 234 56 78``."""
    return "+7 %s %s %s %s" % (phone[1:4], phone[4:7], phone[7:9], phone[9:11])


# Kaspi writes its dates in Kazakhstan's time: UTC+5 across the country since
# 2024-03-01, without daylight saving (a fixed offset, whatever the server's zone).
KASPI_TZ = timezone(timedelta(hours=5), "Asia/Almaty")


def timestamp(local):
    """The Unix time of a date-time Kaspi wrote (``txn_date``)."""
    return int(local.replace(tzinfo=KASPI_TZ).timestamp())


_API_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)


def to_utc(value):
    """A date-time of Kaspi's QR API (``ExpireDate``: ``2026-10-01T18:30:00``, with a
    fraction or an offset or neither) as the naive UTC date-time Odoo stores; with no
    offset it is Kazakhstan's time. None if it is no such date-time."""
    match = _API_DATETIME.match(str(value or "").strip())
    if not match:
        return None
    day, clock, offset = match.groups()
    offset = {"Z": "+00:00", None: "+05:00"}.get(offset, offset)
    if ":" not in offset:
        offset = "%s:%s" % (offset[:3], offset[3:])
    try:
        moment = datetime.fromisoformat("%sT%s%s" % (day, clock, offset))
    except ValueError:  # 2026-13-45, 25:00
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class KaspiRequestError(Exception):
    def __init__(self, result, comment):
        super().__init__(comment)
        self.result = result
        self.comment = comment


def parse_request(params):
    """Validate a check/pay request; return (command, txn_id, account, amount, txn_date)."""
    command = (params.get("command") or "").strip().lower()
    if command not in ("check", "pay"):
        raise KaspiRequestError(OTHER_ERROR, "Unknown command")
    txn_id = (params.get("txn_id") or "").strip()
    if not _TXN_ID.match(txn_id):
        raise KaspiRequestError(OTHER_ERROR, "Missing or invalid txn_id")
    account = (params.get("account") or "").strip()
    if not _ACCOUNT.match(account):
        raise KaspiRequestError(BAD_ACCOUNT_FORMAT, "Invalid account format")
    raw_sum = (params.get("sum") or "").strip()
    try:
        amount = round(decimal_amount(raw_sum.lstrip("-"), "sum", default=0.0), 2)
    except PayloadError as exc:  # not a number, infinite or absurd
        raise KaspiRequestError(OTHER_ERROR, "Invalid sum") from exc
    if raw_sum.startswith("-"):
        amount = -amount
    if command == "pay" and amount <= 0:
        raise KaspiRequestError(AMOUNT_TOO_SMALL, "The sum must be positive")
    txn_date = None
    if command == "pay":
        try:
            txn_date = datetime.strptime((params.get("txn_date") or "").strip(), "%Y%m%d%H%M%S")
        except ValueError as exc:
            raise KaspiRequestError(OTHER_ERROR, "Invalid txn_date (YYYYMMDDHHMMSS)") from exc
    return command, txn_id, account, amount, txn_date


def response_xml(txn_id, result, comment, prv_txn=None, amount=None):
    root = ET.Element("response")
    ET.SubElement(root, "txn_id").text = txn_id or ""
    if prv_txn is not None:
        ET.SubElement(root, "prv_txn").text = str(prv_txn)
    if amount is not None:
        ET.SubElement(root, "sum").text = "%.2f" % amount
    ET.SubElement(root, "result").text = str(result)
    ET.SubElement(root, "comment").text = comment or ""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def envelope_data(body):
    """``Data`` of a Kaspi QR API answer; raise ValueError on a non-zero StatusCode."""
    if not isinstance(body, dict):
        raise ValueError("Kaspi answered something that is not JSON.")
    if body.get("StatusCode") not in (0, "0"):
        raise ValueError(
            "Kaspi error %s: %s" % (body.get("StatusCode"), body.get("Message") or "-")
        )
    return body.get("Data") or {}
