# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Validation of product-usage and signal events (SPEC C1, C2), shared by the API and CSV.

``validate_item`` turns one client item into a normalised dict or a list of
readable errors; nothing here touches the database.
"""

import math
from datetime import datetime
from datetime import timedelta
from datetime import timezone

UTC = timezone.utc  # noqa: UP017 - Odoo 18 still supports Python 3.10

MAX_ITEMS = 1000
MAX_ID = 2**31  # PostgreSQL integer ids
MAX_BODY = 1024 * 1024
FUTURE_TOLERANCE = timedelta(days=1)

# metric -> how a day's values combine: counters add up, gauges keep the day's maximum.
EVENT_TYPES = {
    "login": "sum",
    "key_action": "sum",
    "feature_used": "sum",
    "active_users": "max",
    "usage": "max",
    "ticket_opened": "sum",
    "ticket_closed": "sum",
    "ticket_critical": "sum",
    "discount_request": "sum",
    "export_request": "sum",
    "new_contact": "sum",
    "escalation": "sum",
}
ACCOUNT_KEYS = ("partner_id", "customer_ref", "external_customer_ref", "subscription_ref")


def parse_timestamp(value):
    """ISO 8601 (with or without zone, zone-less is UTC) or unix seconds -> naive UTC."""
    if isinstance(value, bool) or value in (None, ""):
        raise ValueError("is required")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        try:
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError("%r is not a date" % value) from exc
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string or unix seconds")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError("%r is not an ISO 8601 date-time" % value) from exc
    if parsed.tzinfo:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _text(value, name, errors, max_len=128):
    if value in (None, ""):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        errors.append("%s: must be a string" % name)
        return None
    value = str(value).strip()
    if len(value) > max_len:
        errors.append("%s: longer than %d characters" % (name, max_len))
        return None
    if not value.isprintable():
        errors.append("%s: control characters or invalid text" % name)
        return None
    return value or None


def validate_item(item, now):
    """Return (normalised item or None, [errors])."""
    if not isinstance(item, dict):
        return None, ["an event must be a JSON object"]
    errors = []
    account = {}
    for key in ACCOUNT_KEYS:
        if item.get(key) not in (None, ""):
            account[key] = item[key]
    if not account:
        errors.append("account: give one of %s" % ", ".join(ACCOUNT_KEYS))
    elif "partner_id" in account and (
        isinstance(account["partner_id"], bool)
        or not isinstance(account["partner_id"], int)
        or not 0 < account["partner_id"] < MAX_ID
    ):
        errors.append("partner_id: must be a positive integer")
    else:
        for key in ACCOUNT_KEYS[1:]:
            if key in account:
                account[key] = _text(account[key], key, errors)
    event_type = item.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        errors.append("type: %r is not one of %s" % (event_type, ", ".join(sorted(EVENT_TYPES))))
    timestamp = None
    try:
        timestamp = parse_timestamp(item.get("timestamp"))
        if timestamp > now + FUTURE_TOLERANCE:
            errors.append("timestamp: more than a day in the future")
        elif timestamp < datetime(2000, 1, 1):
            errors.append("timestamp: before 2000")
    except ValueError as exc:
        errors.append("timestamp: %s" % exc)
    value = item.get("value", 1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.append("value: must be a number")
    elif value < 0:
        errors.append("value: cannot be negative")
    external_id = _text(item.get("id"), "id", errors)
    user_ref = _text(item.get("user"), "user", errors)
    feature = _text(item.get("feature"), "feature", errors)
    if errors:
        return None, errors
    return {
        "account": account,
        "type": event_type,
        "timestamp": timestamp,
        "value": float(value),
        "external_id": external_id,
        "user_ref": user_ref,
        "feature": feature,
    }, []


def now_utc():
    return datetime.now(UTC).replace(tzinfo=None)
