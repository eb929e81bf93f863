# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every provider adapter returns, and the errors it raises."""

from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation

MAX_BODY = 1024 * 1024  # 1 MB: the largest webhook body accepted
MAX_AMOUNT = Decimal(10) ** 12  # far above any real payment, below float trouble
MAX_REF = 255  # characters of a provider id, event type or object id
MAX_TIMESTAMP = 253402300799  # 9999-12-31 23:59:59 UTC, the last second Python dates have

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


def text_ref(value, key):
    """A provider's id (text or a whole number) as text.

    :raises PayloadError: another type, empty, longer than ``MAX_REF`` or not
        printable (control characters, NUL, lone surrogates: text PostgreSQL
        refuses or a list should not show)
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError("%r must be text." % key)
    text = str(value)
    if not text or len(text) > MAX_REF or not text.isprintable():
        raise PayloadError("%r must be printable text of 1 to %d characters." % (key, MAX_REF))
    return text


def as_dict(value):
    """``value`` if it is a JSON object, else an empty one: a field of the wrong type
    in a provider payload reads as missing."""
    return value if isinstance(value, dict) else {}


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
    # That object's status in this state (a Stripe subscription's ``status``): a newer
    # state supersedes an older one only in the same status.
    object_status: str = ""
    # The verified body as received, stored as the raw payload when it is the event itself.
    raw: str = ""

    def __post_init__(self):
        # Whatever the provider sent, the inbox gets what its columns can hold, or a
        # clear refusal: never a database error.
        self.external_id = text_ref(self.external_id, "id")
        self.event_type = text_ref(self.event_type, "type")
        try:  # only a hint for the inbox's order: an odd one is dropped, not refused
            self.object_ref = text_ref(self.object_ref, "object") if self.object_ref else ""
        except PayloadError:
            self.object_ref = ""
        created = self.created or 0
        if isinstance(created, bool) or not isinstance(created, int):
            raise PayloadError("'created' must be a Unix time.")
        if not 0 <= created <= MAX_TIMESTAMP:
            raise PayloadError("'created' is not a date.")
        self.created = created
