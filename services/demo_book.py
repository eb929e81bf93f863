# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A deterministic book of SaaS customers, in plain Python.

``build_book`` simulates ``customers`` customers month by month over
``months`` months ending on ``today``: sign-ups (more recent months weigh
more, as a growing business), trials, plans Start / Pro / Enterprise billed
monthly, quarterly or annually in KZT, RUB (customers in Russia) or USD,
introductory discounts that end,
upgrades, downgrades, seat add-ons, churn and reactivation, and the payment
state of every running subscription. The same seed always gives the same
book. ``models/cs_demo_generator.py`` writes it to the database in bulk.
"""

import random
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from . import mrr as mrr_service

# Monthly list prices per plan and currency.
PLANS = {
    "start": {"tier": 1, "name": "Start", "KZT": 15000.0, "RUB": 2490.0, "USD": 29.0, "seats": 5},
    "pro": {"tier": 2, "name": "Pro", "KZT": 45000.0, "RUB": 7490.0, "USD": 89.0, "seats": 20},
    "enterprise": {
        "tier": 3,
        "name": "Enterprise",
        "KZT": 150000.0,
        "RUB": 24990.0,
        "USD": 299.0,
        "seats": 100,
    },
}
ADDON = {"name": "Extra seats x5", "KZT": 6000.0, "RUB": 990.0, "USD": 12.0}
PLAN_ORDER = ["start", "pro", "enterprise"]
# billing key -> (rule type, interval, price factor on the monthly list price)
BILLINGS = {
    "monthly": ("months", 1, 1.0),
    "quarterly": ("months", 3, 3 * 0.95),
    "annual": ("years", 1, 10.0),
}
MONTHLY_CHURN = {"start": 0.035, "pro": 0.02, "enterprise": 0.01}
# Units of each currency per USD, month 0 = first month of the book; a gentle drift.
KZT_PER_USD_START = 455.0
KZT_PER_USD_DRIFT = 2.1
RUB_PER_USD_START = 88.0
RUB_PER_USD_DRIFT = 0.35

_PREFIX = ["ТОО", "ТОО", "ТОО", "АО", "ИП", "ООО", "ООО"]
_ROOT = [
    "Восток",
    "Altyn",
    "Steppe",
    "Алатау",
    "Nomad",
    "Жетысу",
    "Kazakh",
    "Тенгри",
    "Байтерек",
    "Сарыарка",
    "Qazaq",
    "Атамекен",
    "Арман",
    "Caspian",
    "Орда",
    "Astana",
    "Silk Way",
    "Каспий",
    "Север",
    "Urals",
    "Мега",
    "Aqtobe",
    "Ертис",
    "Шымкент",
    "Balkhash",
    "Туран",
    "Tabys",
    "Samruk",
]
_SUFFIX = [
    "Логистик",
    "Data",
    "Trade",
    "Финанс",
    "Agro",
    "Медиа",
    "Soft",
    "Строй",
    "Retail",
    "Маркет",
    "Pharm",
    "Сервис",
    "Cloud",
    "Групп",
    "Energy",
    "Авто",
    "Foods",
    "Консалтинг",
    "Telecom",
    "HR",
]
_CITIES = [
    ("KZ", "Алматы"),
    ("KZ", "Астана"),
    ("KZ", "Шымкент"),
    ("KZ", "Караганда"),
    ("KZ", "Актобе"),
    ("RU", "Москва"),
    ("RU", "Новосибирск"),
    ("RU", "Казань"),
]


@dataclass
class DemoSubscription:
    key: int
    customer: int
    plan: str  # a PLANS key or "addon"
    billing: str
    currency: str
    start: date
    quantity: float = 1.0
    discount: float = 0.0
    end: date = None  # closed on this date
    close_reason: str = None
    trial_end: date = None
    seats: int = 0
    renewal_type: str = "auto"
    payment_status: str = "none"
    amount_due: float = 0.0
    next_invoice: date = None
    provider: str = None
    external_customer_ref: str = None
    external_subscription_ref: str = None

    @property
    def is_trial(self):
        return self.trial_end is not None

    def period_start(self):
        """First day of the billing period that ends at ``next_invoice``."""
        rule, interval, _factor = BILLINGS[self.billing]
        return self.next_invoice - relativedelta(**{rule: interval})

    def period_amount(self):
        """Recurring subtotal of one billing period, after discount, before tax."""
        _rule, _interval, factor = BILLINGS[self.billing]
        price = (ADDON if self.plan == "addon" else PLANS[self.plan])[self.currency]
        return round(price * factor * self.quantity * (1 - self.discount / 100.0), 2)

    def unit_price(self):
        _rule, _interval, factor = BILLINGS[self.billing]
        price = (ADDON if self.plan == "addon" else PLANS[self.plan])[self.currency]
        return round(price * factor, 2)

    def mrr(self):
        rule, interval, _factor = BILLINGS[self.billing]
        return round(mrr_service.monthly_amount(self.period_amount(), rule, interval), 2)


@dataclass
class DemoCustomer:
    key: int
    name: str
    country: str
    city: str
    email: str
    currency: str
    team_size: int
    csm: int
    subscriptions: list = field(default_factory=list)


@dataclass
class DemoBook:
    today: date
    start: date
    customers: list
    subscriptions: list
    # (date, subscription key, new MRR in subscription currency), chronological
    changes: list

    def usd_rate(self, currency, on):
        """Units of ``currency`` per USD on date ``on`` (monthly steps)."""
        months = (on.year - self.start.year) * 12 + on.month - self.start.month
        months = max(months, 0)
        if currency == "USD":
            return 1.0
        if currency == "KZT":
            return round(KZT_PER_USD_START + KZT_PER_USD_DRIFT * months, 4)
        if currency == "RUB":
            return round(RUB_PER_USD_START + RUB_PER_USD_DRIFT * months, 4)
        raise ValueError(currency)

    def rate_dates(self):
        d = self.start.replace(day=1)
        while d <= self.today:
            yield d
            d += relativedelta(months=1)


def _random_day(rng, month_start, today):
    last = min(month_start + relativedelta(months=1, days=-1), today)
    return month_start + timedelta(days=rng.randint(0, max((last - month_start).days, 0)))


def build_book(customers=200, months=24, today=None, seed=42, csm_count=4):
    """Simulate the book. Returns a :class:`DemoBook`."""
    rng = random.Random(seed)
    today = today or date.today()
    first_month = today.replace(day=1) - relativedelta(months=months - 1)
    month_starts = [first_month + relativedelta(months=i) for i in range(months)]
    # Growth: later months get more sign-ups (weights 1..2).
    weights = [1.0 + i / max(months - 1, 1) for i in range(months)]
    book_customers, subs, changes = [], [], []
    used_names = set()
    sub_key = 0

    def open_sub(customer, plan, billing, currency, start, quantity=1.0, discount=0.0):
        nonlocal sub_key
        sub_key += 1
        sub = DemoSubscription(
            key=sub_key,
            customer=customer.key,
            plan=plan,
            billing=billing,
            currency=currency,
            start=start,
            quantity=quantity,
            discount=discount,
            seats=int(quantity * 5) if plan == "addon" else PLANS[plan]["seats"],
            renewal_type="signature" if billing == "annual" and rng.random() < 0.6 else "auto",
        )
        subs.append(sub)
        customer.subscriptions.append(sub)
        return sub

    for index in range(customers):
        country, city = _CITIES[rng.randrange(len(_CITIES))]
        name = None
        for _attempt in range(20):
            prefix = _PREFIX[rng.randrange(len(_PREFIX))]
            # The same legal forms under each country's name: ТОО in Kazakhstan, ООО in Russia.
            prefix = {"RU": {"ТОО": "ООО"}, "KZ": {"ООО": "ТОО"}}[country].get(prefix, prefix)
            candidate = "%s «%s %s»" % (
                prefix,
                _ROOT[rng.randrange(len(_ROOT))],
                _SUFFIX[rng.randrange(len(_SUFFIX))],
            )
            if candidate not in used_names:
                name = candidate
                break
        name = name or "%s %d" % (candidate, index + 1)
        used_names.add(name)
        # Customers in Russia pay in roubles (through YooKassa, Stripe does not serve
        # them); in Kazakhstan one in four pays in dollars.
        currency = "RUB" if country == "RU" else "USD" if rng.random() < 0.25 else "KZT"
        plan = rng.choices(PLAN_ORDER, weights=[0.55, 0.33, 0.12])[0]
        team = {"start": (3, 40), "pro": (20, 200), "enterprise": (150, 2000)}[plan]
        customer = DemoCustomer(
            key=index + 1,
            name=name,
            country=country,
            city=city,
            email="ops%d@customer%d.example" % (index + 1, index + 1),
            currency=currency,
            team_size=rng.randint(*team),
            csm=rng.randrange(csm_count) if csm_count else 0,
        )
        book_customers.append(customer)
        start_month_index = rng.choices(range(months), weights=weights)[0]
        start = _random_day(rng, month_starts[start_month_index], today)
        billing = rng.choices(list(BILLINGS), weights=[0.6, 0.15, 0.25])[0]
        discount = rng.choice([10.0, 15.0, 20.0]) if rng.random() < 0.15 else 0.0
        sub = open_sub(customer, plan, billing, currency, start, discount=discount)
        if start_month_index == months - 1 and rng.random() < 0.25:
            sub.trial_end = start + timedelta(days=14)
            if sub.trial_end <= today:
                changes.append((sub.trial_end, sub.key, sub.mrr()))
                sub.trial_end = None
        else:
            changes.append((start, sub.key, sub.mrr()))
        addon = None
        discount_end = start + relativedelta(months=6) if discount else None
        for month_start in month_starts[start_month_index + 1 :]:
            day = _random_day(rng, month_start, today)
            if sub.end:
                if rng.random() < 0.04:  # reactivation
                    plan = rng.choices(PLAN_ORDER, weights=[0.5, 0.4, 0.1])[0]
                    sub = open_sub(customer, plan, sub.billing, currency, day)
                    changes.append((day, sub.key, sub.mrr()))
                continue
            if sub.is_trial:
                continue
            if discount_end and day >= discount_end and sub.discount:
                sub.discount = 0.0
                changes.append((day, sub.key, sub.mrr()))
            roll = rng.random()
            if roll < MONTHLY_CHURN[sub.plan]:
                sub.end = day
                sub.close_reason = rng.choice(["expensive", "requirement", "use", "other"])
                changes.append((day, sub.key, 0.0))
                if addon and not addon.end:
                    addon.end = day
                    addon.close_reason = sub.close_reason
                    changes.append((day, addon.key, 0.0))
                continue
            tier = PLAN_ORDER.index(sub.plan)
            if roll < 0.07 and tier < 2:
                sub.plan = PLAN_ORDER[tier + 1]
                sub.seats = PLANS[sub.plan]["seats"]
                changes.append((day, sub.key, sub.mrr()))
            elif roll < 0.085 and tier > 0:
                sub.plan = PLAN_ORDER[tier - 1]
                sub.seats = PLANS[sub.plan]["seats"]
                changes.append((day, sub.key, sub.mrr()))
            elif roll < 0.10 and not (addon and not addon.end):
                addon = open_sub(
                    customer, "addon", "monthly", currency, day, quantity=float(rng.randint(1, 4))
                )
                changes.append((day, addon.key, addon.mrr()))
            elif roll < 0.105 and addon and not addon.end:
                addon.end = day
                addon.close_reason = "use"
                changes.append((day, addon.key, 0.0))
    changes.sort(key=lambda c: (c[0], c[1]))
    _settle_payments(rng, subs, today)
    return DemoBook(
        today=today,
        start=first_month,
        customers=book_customers,
        subscriptions=subs,
        changes=changes,
    )


def _settle_payments(rng, subs, today):
    """Next invoice dates and payment state of the running subscriptions."""
    for sub in subs:
        if sub.end:
            sub.payment_status = "cancelled"
            continue
        rule, interval, _factor = BILLINGS[sub.billing]
        step = relativedelta(**{rule: interval})
        next_invoice = sub.start
        while next_invoice <= today:
            next_invoice += step
        sub.next_invoice = next_invoice
        if sub.is_trial:
            sub.payment_status = "none"
            continue
        if sub.currency == "USD" and rng.random() < 0.7:
            sub.provider = "stripe"
            sub.external_customer_ref = "cus_demo%06d" % sub.customer
            sub.external_subscription_ref = "sub_demo%06d" % sub.key
        elif sub.currency == "RUB" and rng.random() < 0.7:
            # YooKassa: the saved card is the customer's reference, our subscription
            # code travels in each payment's metadata.
            sub.provider = "yookassa"
            sub.external_customer_ref = "%08x-000f-5000-8000-%012x" % (sub.customer, sub.key)
        elif sub.currency == "KZT" and rng.random() < 0.5:
            sub.provider = "kaspi"
            sub.external_customer_ref = "kaspi-%06d" % sub.customer
            sub.external_subscription_ref = "kaspi-sub-%06d" % sub.key
        roll = rng.random()
        if roll < 0.80:
            sub.payment_status = "paid"
        elif roll < 0.93:
            sub.payment_status = "overdue"
            sub.amount_due = sub.period_amount()
        elif sub.provider:
            sub.payment_status = "failed"
            sub.amount_due = sub.period_amount()
        else:
            sub.payment_status = "paid"
