# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stripe: signature check through the ``stripe`` SDK and reading of its objects.

Source: Stripe's webhook documentation and stripe-python (``stripe.WebhookSignature``),
see ../shared/PROVIDERS.md. Objects follow API version 2025-03-31.basil and later
(invoice subscription under ``parent.subscription_details``), older shapes are read too.
"""

import hashlib
import hmac
import json
import math
import time

import stripe

from .. import mrr as mrr_service
from .common import AuthenticityError
from .common import BillingEvent
from .common import PayloadError
from .common import as_dict
from .common import text_ref
from .common import to_major

TOLERANCE = 300  # seconds; older signatures are replays

# Event types that change something for us; any other verified event is stored as ignored.
HANDLED = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.marked_uncollectible",
    "invoice.payment_action_required",
    "invoice.voided",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "refund.failed",
    "subscription_schedule.created",
    "subscription_schedule.updated",
    "subscription_schedule.canceled",
    "subscription_schedule.released",
    "subscription_schedule.completed",
    "subscription_schedule.aborted",
}
# A subscription schedule's events after which it changes nothing more.
SCHEDULE_ENDED_TYPES = (
    "subscription_schedule.canceled",
    "subscription_schedule.released",
    "subscription_schedule.completed",
    "subscription_schedule.aborted",
)

# Events about a charge (the charge itself, its disputes and refunds): their provider
# object is the charge, so that a later one finds the subscription an earlier one was
# applied to.
CHARGE_EVENT_TYPES = (
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "refund.failed",
)

# The kind of object (``data.object.object``) each handled event carries, by prefix.
_OBJECT_KINDS = (
    ("customer.subscription.", "subscription"),
    ("subscription_schedule.", "subscription_schedule"),
    ("invoice.", "invoice"),
    ("charge.dispute.", "dispute"),
    ("charge.", "charge"),
    ("refund.", "refund"),
)


def wrong_object(event_type, obj):
    """Why ``obj`` is not what an event of ``event_type`` carries (an invoice event
    with a charge in it, whose fields would be read as an invoice's: amounts of 0),
    or None when it is, or says no kind."""
    kind = obj.get("object") if isinstance(obj, dict) else None
    for prefix, expected in _OBJECT_KINDS:
        if event_type.startswith(prefix):
            if kind is not None and kind != expected:
                return "A %s event carries a %r object, not a %s." % (event_type, kind, expected)
            return None
    return None


_INTERVALS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}
NO_MRR_STATUSES = {"trialing", "paused", "incomplete", "incomplete_expired", "unpaid", "canceled"}
PAYMENT_STATUS = {
    "active": "paid",
    "past_due": "overdue",
    "unpaid": "failed",
    "canceled": "cancelled",
    "incomplete_expired": "cancelled",
}


def verify(payload, sig_header, secret, tolerance=TOLERANCE):
    """Check ``Stripe-Signature`` over the raw body; return the parsed event.

    :raises AuthenticityError: missing, forged or expired signature
    :raises PayloadError: the signed body is not a Stripe event
    """
    if not secret:
        raise AuthenticityError("No webhook signing secret is configured for this account.")
    if not sig_header:
        raise AuthenticityError("Missing Stripe-Signature header.")
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    except UnicodeDecodeError as exc:
        raise PayloadError("The body is not UTF-8.") from exc
    try:
        stripe.WebhookSignature.verify_header(text, sig_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise AuthenticityError(str(exc).split("\n")[0]) from exc
    return parse(text)


def parse(text):
    """The event of a Stripe event body (JSON text) whose signature was checked.

    :raises PayloadError: the body is not a Stripe event
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PayloadError("The body is not JSON.") from exc
    if not isinstance(data, dict) or not data.get("id") or not data.get("type"):
        raise PayloadError("Not a Stripe event: 'id' and 'type' are required.")
    if not isinstance(as_dict(data.get("data")).get("object"), dict):
        raise PayloadError("Not a Stripe event: 'data.object' is required.")
    event = BillingEvent(  # checks the id, type and date
        external_id=data["id"],
        event_type=data["type"],
        created=data.get("created") or 0,
        payload=data,
        raw=text,
    )
    if event.event_type.startswith("customer.subscription."):
        event.object_ref = subscription_ref(data["data"]["object"]) or ""  # a checked id
        event.object_status = status_of(data["data"]["object"])
    elif event.event_type in CHARGE_EVENT_TYPES:
        event.object_ref = charge_ref(data["data"]["object"]) or ""
    elif event.event_type.startswith("subscription_schedule."):
        event.object_ref = _id(data["data"]["object"].get("id")) or ""
    return event


def sign(payload, secret, timestamp=None):
    """A valid ``Stripe-Signature`` header for ``payload`` (tests, benchmarks)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    signed = b"%d." % timestamp + body
    signature = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (timestamp, signature)


def subscription_ref(obj):
    """The Stripe subscription id an object belongs to."""
    if obj.get("object") == "subscription":
        return _id(obj.get("id"))
    parent = as_dict(as_dict(obj.get("parent")).get("subscription_details"))
    return _id(parent.get("subscription") or obj.get("subscription"))


def of_no_subscription(obj):
    """Whether an invoice object is told to be of no subscription (a one-off invoice):
    no ``parent`` (or a quote's) and no legacy ``subscription``, and no billing reason
    of a subscription's. An invoice whose subscription merely cannot be read is not."""
    if obj.get("object") != "invoice" or obj.get("subscription") is not None:
        return False
    reason = obj.get("billing_reason")
    if isinstance(reason, str) and reason.startswith("subscription"):
        return False
    parent = obj.get("parent")
    return parent is None or (
        isinstance(parent, dict)
        and parent.get("type") == "quote_details"
        and not parent.get("subscription_details")
    )


def stored_object(payload):
    """The ``data.object`` of a stored event body, read as :func:`verify` reads it;
    ``{}`` when the body holds none."""
    try:
        obj = ((json.loads(payload or "") or {}).get("data") or {}).get("object")
    except (ValueError, AttributeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def status_of(obj):
    """A Stripe object's ``status`` (``active``, ``past_due``…), or "" if it is none."""
    status = obj.get("status")
    if isinstance(status, str) and 0 < len(status) <= 32 and status.replace("_", "").isalpha():
        return status if status.isascii() else ""
    return ""


def customer_ref(obj):
    return _id(obj.get("customer"))


def charge_ref(obj):
    """The Stripe charge an object is or names (a charge, a dispute, a refund)."""
    if obj.get("object") == "charge":
        return _id(obj.get("id"))
    return _id(obj.get("charge"))


def _id(value):
    """A Stripe id, given as such or as the expanded object; None if it is no id."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return text_ref(value, "id") if value else None
    except PayloadError:
        return None


def fetch_charge(api_key, charge_id):
    """The charge as Stripe's API gives it now (a plain dict), to learn the customer
    of a dispute, which names only its charge.

    :raises AuthenticityError: no API key on the billing account
    """
    if not api_key:
        raise AuthenticityError("No Stripe API key is configured for this account.")
    return stripe.Charge.retrieve(charge_id, api_key=api_key).to_dict()


class ApiError(Exception):
    """Stripe's API could not answer; the event is retried."""


def _all_discounts(obj):
    """The entries (ids or objects) of a subscription's ``discounts`` and of its items'."""
    lists = [obj.get("discounts")] + [
        as_dict(item).get("discounts") for item in as_dict(obj.get("items")).get("data") or []
    ]
    return [d for entries in lists if isinstance(entries, list) for d in entries]


def discount_ids(obj):
    """The discounts a subscription object names by id only, its own and its items':
    Stripe never expands a field in an event, and since ``2025-03-31.basil`` a
    subscription's discounts are only there (the ``discount`` object is gone)."""
    return list(dict.fromkeys(d for d in _all_discounts(obj) if isinstance(d, str) and d))


def items_truncated(obj):
    """Whether a subscription object lists only the first of its items
    (``items.has_more``): Stripe embeds 10 in an event and in a subscription it gives,
    and a subscription may have 20."""
    return as_dict(obj.get("items")).get("has_more") is True


# What a subscription object must be asked for to read its MRR: its discounts and
# its items' (an event names them by id) and the tiers of its prices (never included);
# the same for its items when they are listed apart (beyond the first 10).
MRR_EXPAND = ["discounts", "items.data.discounts", "items.data.price.tiers"]
ITEMS_EXPAND = ["data.discounts", "data.price.tiers"]


def fetch_subscription(api_key, subscription_id, api_version):
    """The subscription as Stripe's API gives it now (a plain dict), with what its
    MRR needs expanded (:data:`MRR_EXPAND`), in the shape of ``api_version`` (that of
    the webhook endpoint).

    :raises AuthenticityError: no API key on the billing account
    :raises ApiError: Stripe could not be reached or refused the request
    """
    if not api_key:
        raise AuthenticityError("No Stripe API key is configured for this account.")
    options = {"api_key": api_key, "stripe_version": api_version}
    try:
        fetched = stripe.Subscription.retrieve(
            subscription_id, expand=MRR_EXPAND, **options
        ).to_dict()
        if items_truncated(fetched):  # all of its items, page after page
            items = stripe.SubscriptionItem.list(
                subscription=subscription_id, limit=100, expand=ITEMS_EXPAND, **options
            )
            data = [item.to_dict() for item in items.auto_paging_iter()]
            fetched["items"] = dict(fetched["items"], data=data, has_more=False)
        # Since 2025-09-30.clover a discount names its coupon by id (``source.coupon``),
        # and an item's discounts' coupons lie deeper than Stripe expands; an amount
        # off in another currency is in the coupon's currency_options, never included.
        coupons = {
            coupon_id: stripe.Coupon.retrieve(
                coupon_id, expand=["currency_options"], **options
            ).to_dict()
            for coupon_id in _coupons_to_read(fetched)
        }
    except stripe.StripeError as exc:
        raise ApiError("Stripe did not give the subscription: %s" % exc) from exc
    return _with_coupons(fetched, coupons) if coupons else fetched


def _coupons_to_read(obj):
    """The coupons a subscription's discount objects do not give in full: named by id
    only (``source.coupon``), or an amount off in another currency than the
    subscription's without their ``currency_options``."""
    currency = (obj.get("currency") or "").lower()
    ids = []
    for discount in _all_discounts(obj):
        if not isinstance(discount, dict):
            continue
        coupon = discount.get("coupon") or as_dict(discount.get("source")).get("coupon")
        if isinstance(coupon, str):
            ids.append(coupon)
        elif (
            isinstance(coupon, dict)
            and isinstance(coupon.get("id"), str)
            and coupon.get("amount_off")
            and (coupon.get("currency") or currency).lower() != currency
            and not isinstance(coupon.get("currency_options"), dict)
        ):
            ids.append(coupon["id"])
    return list(dict.fromkeys(ids))


def _with_coupons(obj, coupons):
    """``obj`` with its discounts' coupons replaced by ``coupons``' objects of the same id."""

    def resolve_one(discount):
        if not isinstance(discount, dict):
            return discount
        coupon = discount.get("coupon")
        if isinstance(coupon, dict) and coupon.get("id") in coupons:
            return dict(discount, coupon=coupons[coupon["id"]])
        source = as_dict(discount.get("source"))
        ref = source.get("coupon")
        ref = ref.get("id") if isinstance(ref, dict) else ref
        if isinstance(ref, str) and ref in coupons:
            return dict(discount, source=dict(source, coupon=coupons[ref]))
        return discount

    def resolve(entries):
        return [resolve_one(d) for d in entries] if isinstance(entries, list) else entries

    obj = dict(obj, discounts=resolve(obj.get("discounts")))
    own = as_dict(obj.get("items"))
    if isinstance(own.get("data"), list):
        obj["items"] = dict(
            own,
            data=[
                dict(item, discounts=resolve(item.get("discounts")))
                if isinstance(item, dict)
                else item
                for item in own["data"]
            ],
        )
    return obj


def with_expanded(obj, fetched):
    """A copy of a subscription object (an event's) completed from ``fetched`` (the
    API's, :func:`fetch_subscription`): its discounts named by id replaced by the
    discount objects of the same id, its tiered prices given their tiers. A
    discount's coupon and end and a price's tiers never change, so they hold for
    the state an older event carries; what ``fetched`` no longer has stays as it was.
    Items beyond the first ones an event lists are those of ``fetched``, as they are
    now."""
    items = [as_dict(item) for item in as_dict(fetched.get("items")).get("data") or []]
    discounts = {d["id"]: d for d in _all_discounts(fetched) if isinstance(d, dict) and d.get("id")}
    tiers = {
        as_dict(item.get("price")).get("id"): as_dict(item.get("price")).get("tiers")
        for item in items
        if isinstance(as_dict(item.get("price")).get("tiers"), list)
    }

    def expand(entries):
        if not isinstance(entries, list):
            return entries
        return [discounts.get(d, d) if isinstance(d, str) else d for d in entries]

    def complete(item):
        if not isinstance(item, dict):
            return item
        item = dict(item, discounts=expand(item.get("discounts")))
        price = as_dict(item.get("price"))
        if price.get("billing_scheme") == "tiered" and price.get("id") in tiers:
            item["price"] = dict(price, tiers=tiers[price["id"]])
        return item

    obj = dict(obj, discounts=expand(obj.get("discounts")))
    own = as_dict(obj.get("items"))
    if isinstance(own.get("data"), list):
        data = [complete(item) for item in own["data"]]
        if items_truncated(obj):
            listed = {as_dict(item).get("id") for item in data}
            data += [item for item in items if item.get("id") not in listed]
            own = dict(own, has_more=items_truncated(fetched) or not items)
        obj["items"] = dict(own, data=data)
    return obj


def refunded_amount(charge, previous):
    """What one ``charge.refunded`` event gave back, in minor units: the growth of the
    charge's cumulative ``amount_refunded`` (a partial refund after another one)."""
    before = (previous or {}).get("amount_refunded") or 0
    return max(int(charge.get("amount_refunded") or 0) - int(before), 0)


def _coupon_applies(discount, now):
    if not isinstance(discount, dict):
        return None  # an id without the object: unknown, not applied
    coupon = discount.get("coupon") or (discount.get("source") or {}).get("coupon")
    if not isinstance(coupon, dict) or coupon.get("duration") == "once":
        return None
    if discount.get("end") and discount["end"] < now:
        return None
    return coupon


def _amount_off(coupon, currency):
    """What an amount-off coupon takes, in minor units of ``currency`` (ISO, any case):
    its ``amount_off`` in its own currency, else that of its ``currency_options`` for
    ``currency``; None when it does not say."""
    currency = (currency or "").lower()
    own = (coupon.get("currency") or "").lower()
    if not currency or not own or own == currency:
        return _number(coupon.get("amount_off"))
    option = as_dict(as_dict(coupon.get("currency_options")).get(currency))
    return _number(option.get("amount_off"))


def _apply_discounts(amount, discounts, now, months, currency=None):
    for discount in discounts or []:
        coupon = _coupon_applies(discount, now)
        if not coupon:
            continue
        if coupon.get("percent_off"):
            amount *= 1 - float(coupon["percent_off"]) / 100.0
        elif coupon.get("amount_off"):
            off = _amount_off(coupon, currency)
            amount -= off / months if off and months else 0.0
    return max(amount, 0.0)


def _number(value):
    """A Stripe amount or quantity (an integer, or a decimal string such as
    ``unit_amount_decimal``) as a float; None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unit_amount(entry, key="unit_amount"):
    """``unit_amount`` of a price or a tier, else its ``unit_amount_decimal`` (minor units)."""
    unit = _number(entry.get(key))
    return unit if unit is not None else _number(entry.get(key + "_decimal"))


def _tiered_amount(tiers, mode, quantity):
    """What ``quantity`` costs under a price's tiers (minor units): the whole quantity at
    the price of the tier it falls in (``volume``), or each tier's share at its own
    (``graduated``); a tier's flat amount once when it is used."""
    if quantity <= 0:
        return 0.0
    total, below = 0.0, 0.0
    for tier in map(as_dict, tiers):
        up_to = _number(tier.get("up_to"))  # "inf" or None: the last tier
        unit = _unit_amount(tier) or 0.0
        flat = _unit_amount(tier, "flat_amount") or 0.0
        last = up_to is None or quantity <= up_to
        if mode == "volume":
            if last:
                return unit * quantity + flat
            continue
        units = (quantity if last else up_to) - below
        if units > 0:
            total += unit * units + flat
        if last:
            return total
        below = up_to
    return total


def _tiers_missing(price):
    """Whether ``price`` is tiered and its object does not carry its tiers."""
    tiers = price.get("tiers")
    return price.get("billing_scheme") == "tiered" and not (isinstance(tiers, list) and tiers)


def item_amount(price, quantity):
    """What one period of a licensed item bills, in minor units, before discounts:
    its unit amount times the quantity (in packages when the price transforms the
    quantity), or its tiers'; None for a tiered price whose tiers the object does not
    carry (Stripe includes them only when asked)."""
    if price.get("billing_scheme") == "tiered":
        if _tiers_missing(price):
            return None
        return _tiered_amount(price["tiers"], price.get("tiers_mode"), quantity)
    unit = _unit_amount(price)
    if unit is None:
        unit = _number(price.get("amount")) or 0.0  # the legacy plan object
    transform = as_dict(price.get("transform_quantity") or price.get("transform_usage"))
    divide_by = _number(transform.get("divide_by"))
    if divide_by and divide_by > 0:
        packages = quantity / divide_by
        quantity = math.floor(packages) if transform.get("round") == "down" else math.ceil(packages)
    return unit * quantity


def _licensed_items(obj):
    """(item, price, interval, interval count) of a subscription's licensed recurring items."""
    for item in map(as_dict, as_dict(obj.get("items")).get("data") or []):
        price = as_dict(item.get("price") or item.get("plan"))
        recurring = as_dict(price.get("recurring"))
        interval = recurring.get("interval") or price.get("interval")
        count = _number(recurring.get("interval_count") or price.get("interval_count")) or 1
        usage = recurring.get("usage_type") or price.get("usage_type") or "licensed"
        if interval in _INTERVALS and usage == "licensed":
            yield item, price, interval, count


def _quantity(item):
    quantity = _number(item.get("quantity"))
    return 1.0 if quantity is None else max(quantity, 0.0)


def prices_without_tiers(obj):
    """The tiered prices of a subscription's licensed items whose tiers the object
    does not carry (an event never does): their MRR is unknown without the API."""
    return list(
        dict.fromkeys(
            str(price.get("id") or "?")
            for _item, price, _interval, _count in _licensed_items(obj)
            if _tiers_missing(price)
        )
    )


def subscription_mrr(obj, now=None):
    """MRR of a Stripe subscription object, in major units of its currency.

    Licensed items only: the amount a period bills (``unit_amount`` x quantity, in
    packages per ``transform_quantity``, or by the price's tiers, volume or
    graduated) normalised by the price's interval, item then subscription discounts
    (percent or amount; ``once`` and ended ones ignored). A tiered price without its
    tiers counts nothing (see :func:`prices_without_tiers`). Trialing, paused,
    incomplete, unpaid and cancelled subscriptions have no MRR. Tax, one-off and
    metered items are excluded.
    """
    now = int(time.time()) if now is None else now
    if obj.get("status") in NO_MRR_STATUSES:
        return 0.0
    currency = (obj.get("currency") or "").upper()
    total = 0.0
    # Stripe bills all items of a subscription on one interval: an amount off the
    # subscription comes off each invoice, so off the MRR in part for a longer period.
    period_months = 1.0
    for item, price, interval, count in _licensed_items(obj):
        currency = currency or (price.get("currency") or "").upper()
        amount = item_amount(price, _quantity(item)) or 0.0
        monthly = mrr_service.monthly_amount(amount, _INTERVALS[interval], count)
        months = mrr_service.months_in_period(_INTERVALS[interval], count)
        period_months = months
        total += _apply_discounts(monthly, item.get("discounts"), now, months, currency)
    discounts = obj.get("discounts") or ([obj["discount"]] if obj.get("discount") else [])
    total = _apply_discounts(total, discounts, now, period_months, currency)
    return round(to_major(round(total), currency) if total else 0.0, 2)


def plan_refs(obj):
    """The ids a Stripe subscription's plan goes by, most precise first: its first
    licensed item's price id, the price's lookup key, its product id (the legacy
    ``plan`` object read the same way)."""
    for item in as_dict(obj.get("items")).get("data") or []:
        if not isinstance(item, dict):
            continue
        price = as_dict(item.get("price") or item.get("plan"))
        recurring = as_dict(price.get("recurring"))
        if recurring.get("usage_type", "licensed") != "licensed":
            continue
        refs = [price.get("id"), price.get("lookup_key"), _id(price.get("product"))]
        return [ref for ref in refs if isinstance(ref, str) and ref]
    return []


def next_phase(schedule, now):
    """The phase of a subscription schedule that starts after ``now`` (Unix time),
    the soonest; None when no change is scheduled any more (or the schedule says no
    phases in a shape we read)."""
    phases = [
        phase
        for phase in map(as_dict, as_dict(schedule).get("phases") or [])
        if isinstance(phase.get("start_date"), int) and phase["start_date"] > now
    ]
    return min(phases, key=lambda phase: phase["start_date"]) if phases else None


def phase_subscription(phase, currency=None):
    """A phase of a schedule in the shape of a subscription object, so that its MRR
    is read by :func:`subscription_mrr`: its items (a price given by id only reads
    as unknown, see :func:`phase_prices_missing`) and its discounts and its items'
    (a coupon given by id only is not applied, see :func:`phase_discounts`)."""

    def discounts(entries):
        return entries if isinstance(entries, list) else []

    items = [
        {
            "price": as_dict(item.get("price")) or {},
            "quantity": item.get("quantity"),
            "discounts": discounts(item.get("discounts")),
        }
        for item in map(as_dict, phase.get("items") or [])
    ]
    return {
        "object": "subscription",
        "status": "active",
        "currency": phase.get("currency") or currency,
        "discounts": discounts(phase.get("discounts")),
        "items": {"object": "list", "data": items, "has_more": False},
    }


def phase_prices_missing(phase):
    """The prices a schedule's phase names by id only (an event never expands them)
    or whose tiers it lacks: the phase's MRR is unknown without them."""
    missing = []
    for item in map(as_dict, phase.get("items") or []):
        price = item.get("price")
        if isinstance(price, dict):
            if _tiers_missing(price):
                missing.append(str(price.get("id") or "?"))
        else:
            missing.append(str(price or "?"))
    return list(dict.fromkeys(missing))


def phase_discounts(phase):
    """The discounts of a schedule's phase and of its items whose coupon it does not
    give (an event names coupons by id; an existing discount carried over is named by
    its id): its MRR leaves them out."""
    entries = [phase.get("discounts")] + [
        as_dict(item).get("discounts") for item in phase.get("items") or []
    ]
    unread = []
    for entry in (e for entries in entries if isinstance(entries, list) for e in entries):
        coupon = as_dict(entry).get("coupon")
        if not isinstance(coupon, dict):
            ref = as_dict(entry).get("discount") or coupon or entry
            unread.append(ref if isinstance(ref, str) else "?")
    return unread


# What a schedule must be asked for to read the MRR of its phases: the prices with
# their tiers and the coupons of the phases' discounts (with their amounts in other
# currencies) and of their items' (Stripe expands four levels at most).
SCHEDULE_EXPAND = [
    "phases.items.price.tiers",
    "phases.discounts.coupon.currency_options",
    "phases.items.discounts.coupon",
]


def fetch_schedule(api_key, schedule_id, api_version):
    """The subscription schedule as Stripe's API gives it now, with what the MRR of
    its phases needs expanded (:data:`SCHEDULE_EXPAND`).

    :raises AuthenticityError: no API key on the billing account
    :raises ApiError: Stripe could not be reached or refused the request
    """
    if not api_key:
        raise AuthenticityError("No Stripe API key is configured for this account.")
    try:
        return stripe.SubscriptionSchedule.retrieve(
            schedule_id,
            expand=SCHEDULE_EXPAND,
            api_key=api_key,
            stripe_version=api_version,
        ).to_dict()
    except stripe.StripeError as exc:
        raise ApiError("Stripe did not give the subscription schedule: %s" % exc) from exc


def webhook_endpoints(api_key, api_version):
    """The webhook endpoints of the Stripe account (plain dicts with ``url``,
    ``status``, ``enabled_events``, ``api_version``), every page of them.

    :raises AuthenticityError: no API key on the billing account
    :raises ApiError: Stripe could not be reached or refused the request (a restricted
        key without the *Webhook Endpoints: read* permission)
    """
    if not api_key:
        raise AuthenticityError("No Stripe API key is configured for this account.")
    try:
        listed = stripe.WebhookEndpoint.list(limit=100, api_key=api_key, stripe_version=api_version)
        return [endpoint.to_dict() for endpoint in listed.auto_paging_iter()]
    except stripe.StripeError as exc:
        raise ApiError("Stripe did not list the webhook endpoints: %s" % exc) from exc


def undelivered_events(api_key, api_version, since):
    """The newest events since ``since`` (a unix time) that Stripe has not delivered to
    all of its endpoints (``delivery_success=false``: failed or still being retried),
    one page of at most 100: ``(events as dicts, whether there are more)``.

    :raises ApiError: Stripe could not be reached or refused the request (a restricted
        key without the *Events: read* permission)
    """
    try:
        listed = stripe.Event.list(
            delivery_success=False,
            created={"gte": int(since)},
            limit=100,
            api_key=api_key,
            stripe_version=api_version,
        )
    except stripe.StripeError as exc:
        raise ApiError("Stripe did not list its undelivered events: %s" % exc) from exc
    return [event.to_dict() for event in listed.data], bool(listed.has_more)


def check_endpoints(endpoints, url, pinned_version):
    """How the Stripe account sends events to ``url``, from its ``endpoints``.

    Returns a dict: ``endpoint`` (the one sending to ``url``, or None), ``elsewhere``
    (the URLs of endpoints sending to the same path at another address: the Odoo
    address changed), ``disabled``, ``missing`` (the event types the addon handles that
    the endpoint does not send, sorted) and ``version`` (the endpoint's API version
    when it is not ``pinned_version``; None when it is, or when the endpoint follows
    the Stripe account's default)."""

    def normalized(address):
        return (address or "").strip().rstrip("/").lower()

    wanted = normalized(url)
    path = wanted.split("://", 1)[-1].partition("/")[2]
    endpoint = next((e for e in endpoints if normalized(e.get("url")) == wanted), None)
    elsewhere = [
        e.get("url")
        for e in endpoints
        if normalized(e.get("url")) != wanted
        and path
        and normalized(e.get("url")).split("://", 1)[-1].partition("/")[2] == path
    ]
    result = {"endpoint": endpoint, "elsewhere": elsewhere, "disabled": False, "missing": []}
    result["version"] = None
    if endpoint is None:
        return result
    enabled = set(endpoint.get("enabled_events") or [])
    result["disabled"] = endpoint.get("status") != "enabled"
    result["missing"] = [] if "*" in enabled else sorted(HANDLED - enabled)
    version = endpoint.get("api_version")
    result["version"] = version if version and version != pinned_version else None
    return result


def subscription_quantity(obj):
    """The licensed quantity the subscription bills, summed over its items; 0 if none."""
    items = as_dict(as_dict(obj).get("items")).get("data")
    total = 0
    for item in items if isinstance(items, list) else []:
        quantity = as_dict(item).get("quantity")
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
            total += quantity
    return total


def seats(obj, previous, current_seats):
    """The seats of a subscription after Stripe's state ``obj``; ``previous`` is the
    event's ``previous_attributes``.

    Stripe's quantity is the number of seats only when a plan is priced per seat. A
    flat-priced plan bills a quantity of 1 whatever the team's size, so a quantity of
    1 sets the seats only of a subscription that has none, or whose seats followed
    Stripe's quantity until this change (per-seat billing going down to one seat).
    """
    quantity = subscription_quantity(obj)
    if not quantity:
        return current_seats
    if quantity > 1 or not current_seats:
        return quantity
    if "items" in as_dict(previous) and subscription_quantity(previous) == current_seats:
        return quantity
    return current_seats
