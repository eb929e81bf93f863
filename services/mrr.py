# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pure MRR arithmetic: normalisation to a month and movement classification.

Nothing here touches the ORM, so every rule is unit-tested with tables of cases
(``tests/test_mrr_service.py``). The models feed these functions and store what
they return (SPEC B6).
"""

# A year has 12 months; days and weeks go through an average Gregorian month.
DAYS_PER_MONTH = 30.4375
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7.0

NEW = "new"
EXPANSION = "expansion"
CONTRACTION = "contraction"
CHURN = "churn"
REACTIVATION = "reactivation"

MOVEMENT_TYPES = (NEW, EXPANSION, CONTRACTION, CHURN, REACTIVATION)


def months_in_period(rule_type, interval):
    """Length of one billing period in months.

    :param rule_type: ``days``, ``weeks``, ``months`` or ``years`` (OCA template)
    :param interval: how many of those units one period lasts (>= 1)
    """
    interval = int(interval or 0)
    if interval < 1:
        raise ValueError("The recurring interval must be at least 1, got %r" % interval)
    if rule_type == "days":
        return interval / DAYS_PER_MONTH
    if rule_type == "weeks":
        return interval / WEEKS_PER_MONTH
    if rule_type == "months":
        return float(interval)
    if rule_type == "years":
        return 12.0 * interval
    raise ValueError("Unknown recurring rule type %r" % (rule_type,))


def monthly_amount(period_amount, rule_type, interval):
    """The amount billed every period, expressed per month."""
    if not period_amount:
        return 0.0
    return period_amount / months_in_period(rule_type, interval)


def classify(customer_before, customer_after, paid_before):
    """Classify one change of a customer's MRR (B6, per customer).

    :param customer_before: the customer's MRR before the change (any currency,
        only its sign and its comparison with ``customer_after`` matter)
    :param customer_after: the customer's MRR after the change, same currency
    :param paid_before: whether the customer ever had MRR > 0 before
    :return: a movement type, or ``None`` when nothing moved
    """
    before = max(customer_before or 0.0, 0.0)
    after = max(customer_after or 0.0, 0.0)
    if abs(after - before) < 1e-9:
        return None
    if before <= 0.0:
        return REACTIVATION if paid_before else NEW
    if after <= 0.0:
        return CHURN
    return EXPANSION if after > before else CONTRACTION
