# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Health scoring as plain Python (SPEC D1-D3): rules -> points -> weighted score -> zone.

A model is a list of measures ``{"code", "metric", "weight", "rules": [(min, max, points)]}``
(``max`` exclusive, ``None`` = open). A measure whose metric has no value for a
customer is left out and the other weights are scaled up, so a missing NPS
neither helps nor hurts.
"""


def points_for(value, rules):
    """Points of the first rule whose [min, max) range holds ``value``; None if none does."""
    for low, high, points in rules:
        if (low is None or value >= low) and (high is None or value < high):
            return float(points)
    return None


def overlapping(rules):
    """Pairs of rules whose ranges overlap (an invalid model)."""
    spans = sorted(
        (
            (float("-inf") if low is None else low, float("inf") if high is None else high)
            for low, high, _points in rules
        )
    )
    return [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]


def zone_for(score, green_min, yellow_min):
    if score >= green_min:
        return "green"
    if score >= yellow_min:
        return "yellow"
    return "red"


def score(measures, values, green_min=70.0, yellow_min=40.0):
    """Score one customer.

    :param measures: the model's measures (see module doc)
    :param values: {metric: value or None}
    :return: (score 0-100 or None when nothing could be measured, zone, contributions)
        where contributions is a list of dicts: code, metric, value, points, weight,
        contribution (points x effective weight).
    """
    rows, weight_total = [], 0.0
    for measure in measures:
        value = values.get(measure["metric"])
        points = None if value is None else points_for(value, measure["rules"])
        rows.append(
            {
                "code": measure["code"],
                "metric": measure["metric"],
                "value": value,
                "points": points,
                "weight": measure["weight"],
                "contribution": 0.0,
            }
        )
        if points is not None:
            weight_total += measure["weight"]
    if not weight_total:
        return None, None, rows
    total = 0.0
    for row in rows:
        if row["points"] is not None:
            row["contribution"] = round(row["points"] * row["weight"] / weight_total, 2)
            total += row["points"] * row["weight"] / weight_total
    total = round(total, 1)
    return total, zone_for(total, green_min, yellow_min), rows


def churn_risk(zone, trend_30):
    """Low / medium / high from the zone and the 30-day trend (a fall of 10+ is an alert)."""
    falling = trend_30 is not None and trend_30 <= -10
    if zone == "red" or (zone == "yellow" and falling):
        return "high"
    if zone == "yellow" or falling:
        return "medium"
    return "low"
