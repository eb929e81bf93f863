# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every provider adapter returns, and the errors it raises."""

from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation

MAX_BODY = 1024 * 1024  # 1 MB: the largest webhook body accepted
MAX_AMOUNT = Decimal(10) ** 12  # far above any real payment, below float trouble

# Currencies without minor units (ISO 4217 exponent 0) among those providers bill in.
ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
}  # fmt: skip


class WebhookError(Exception):
    """A request we refuse; ``status`` is the HTTP status to answer."""

    status = 400


class AuthenticityError(WebhookError):
    status = 401


class PayloadError(WebhookError):
    status = 400


def decimal_amount(value, key, default=None):
    """A provider's amount in major units given as text (``123.00``, ``1500,5``) or a
    number, as a float; ``default`` when absent (if given).

    :raises PayloadError: not a number, negative, infinite or absurdly large
    """
    if value in (None, "") and default is not None:
        return default
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise PayloadError("%r is not an amount." % key) from exc
    if not number.is_finite() or not 0 <= number < MAX_AMOUNT:
        raise PayloadError("%r is not an amount." % key)
    return float(number)


def to_major(amount, currency):
    """Provider minor units (cents, tiyn, kopecks) to a decimal amount."""
    if amount in (None, ""):
        return 0.0
    if (currency or "").upper() in ZERO_DECIMAL:
        return float(amount)
    return int(amount) / 100.0


@dataclass
class BillingEvent:
    """A verified provider notification, normalised for the inbox."""

    external_id: str
    event_type: str
    created: int  # provider timestamp (unix seconds)
    payload: dict = field(default_factory=dict)
    # The provider object whose full state the event carries (a Stripe subscription),
    # so that a newer state of the same day can supersede an older one in the inbox.
    object_ref: str = ""
    # The verified body as received, stored as the raw payload when it is the event itself.
    raw: str = ""
