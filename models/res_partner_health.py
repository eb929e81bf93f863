# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import timedelta

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from ..services import health as health_service
from .cs_health import ZONES


class ResPartnerHealth(models.Model):
    """Health on the customer (SPEC A2, D3, D4, D7)."""

    _inherit = "res.partner"

    health_score = fields.Float(readonly=True, aggregator="avg")
    # Zone, risk and the falling flag are not indexed: a column of two or three
    # values is read by a sequential scan anyway, and an index on it would turn
    # each nightly update of 100k customers into a non-HOT update.
    health_zone = fields.Selection(ZONES, readonly=True)
    churn_risk = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High")], readonly=True
    )
    cs_health_trend_7 = fields.Float(string="Change, 7 days", readonly=True)
    cs_health_trend_30 = fields.Float(string="Change, 30 days", readonly=True)
    cs_health_model_id = fields.Many2one("cs.health.model", string="Health Model", readonly=True)
    cs_health_falling = fields.Boolean(
        string="Falling Health",
        compute="_compute_cs_health_falling",
        store=True,
        help="Down 10 points or more in 30 days: an alert even in green.",
    )
    cs_health_override = fields.Float(string="Manual Score")
    cs_health_override_reason = fields.Char(string="Override Reason")
    cs_health_override_until = fields.Date(string="Override Until")
    cs_health_locked = fields.Boolean(
        string="Lock Override",
        help="The nightly score does not replace a locked override until it expires.",
    )
    cs_health_override_user_id = fields.Many2one("res.users", string="Override By", readonly=True)
    cs_health_snapshot_ids = fields.One2many(
        "cs.health.snapshot", "partner_id", string="Health History"
    )
    cs_health_breakdown = fields.Html(
        compute="_compute_cs_health_breakdown", sanitize=False, string="Health Breakdown"
    )
    cs_health_chart = fields.Html(
        compute="_compute_cs_health_chart", sanitize=False, string="Health Chart"
    )

    @api.depends("cs_health_trend_30")
    def _compute_cs_health_falling(self):
        for partner in self:
            partner.cs_health_falling = (partner.cs_health_trend_30 or 0.0) <= -10.0

    def _compute_cs_health_breakdown(self):
        Snapshot = self.env["cs.health.snapshot"]
        for partner in self:
            snapshots = Snapshot.search([("partner_id", "=", partner.id)], limit=31)
            if not snapshots:
                partner.cs_health_breakdown = False
                continue
            latest = snapshots[0]
            week_ago = snapshots.filtered(lambda s, d=latest.date: (d - s.date).days >= 7)[:1]
            month_ago = snapshots.filtered(lambda s, d=latest.date: (d - s.date).days >= 30)[:1]
            before = {row["code"]: row for row in json.loads(week_ago.contributions or "[]")}
            before_30 = {row["code"]: row for row in json.loads(month_ago.contributions or "[]")}
            rows = []
            for row in json.loads(latest.contributions or "[]"):
                old, old_30 = before.get(row["code"]), before_30.get(row["code"])
                delta = (row["contribution"] - old["contribution"]) if old else None
                delta_30 = (row["contribution"] - old_30["contribution"]) if old_30 else None
                rows.append(
                    Markup(
                        "<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td>"
                        "<td class='text-end'>%s %%</td><td class='text-end'>%s</td>"
                        "<td class='text-end'>%s</td><td class='text-end'>%s</td></tr>"
                    )
                    % (
                        row.get("name") or row["metric"],
                        "—" if row["value"] is None else round(row["value"], 1),
                        "—" if row["points"] is None else round(row["points"]),
                        round(row["weight"]),
                        round(row["contribution"], 1),
                        "" if delta is None else ("%+.1f" % delta),
                        "" if delta_30 is None else ("%+.1f" % delta_30),
                    )
                )
            header = Markup(
                "<table class='table table-sm o_cs_health_breakdown'><thead><tr>"
                "<th>%s</th><th class='text-end'>%s</th><th class='text-end'>%s</th>"
                "<th class='text-end'>%s</th><th class='text-end'>%s</th>"
                "<th class='text-end'>%s</th><th class='text-end'>%s</th></tr></thead><tbody>"
            ) % (
                self.env._("Measure"),
                self.env._("Value"),
                self.env._("Points"),
                self.env._("Weight"),
                self.env._("Contribution"),
                self.env._("vs 7 days"),
                self.env._("vs 30 days"),
            )
            footer = Markup("</tbody></table>")
            forced = (
                Markup("<p class='text-danger'>%s</p>") % latest.forced_reason
                if latest.forced_reason
                else Markup("")
            )
            partner.cs_health_breakdown = forced + header + Markup("").join(rows) + footer

    # Health history chart: an inline SVG, so the card needs no extra asset.
    _CHART_DAYS = 90
    _CHART = {"width": 640, "height": 180, "left": 34, "right": 10, "top": 10, "bottom": 24}
    _ZONE_COLORS = {"green": "#28a745", "yellow": "#e0a800", "red": "#dc3545"}

    def _compute_cs_health_chart(self):
        """The daily score of the last 90 days over the model's zone bands."""
        Snapshot = self.env["cs.health.snapshot"]
        today = fields.Date.context_today(self)
        for partner in self:
            rows = (
                Snapshot.search_read(
                    [
                        ("partner_id", "=", partner.id),
                        ("date", ">", today - timedelta(days=self._CHART_DAYS)),
                    ],
                    ["date", "score", "zone"],
                    order="date",
                )
                if partner.id
                else []
            )
            if len(rows) < 2:
                partner.cs_health_chart = (
                    Markup("<p class='text-muted'>%s</p>")
                    % self.env._("The chart appears after two daily scores.")
                    if rows
                    else False
                )
                continue
            model = partner.cs_health_model_id
            partner.cs_health_chart = self._cs_health_svg(
                rows, model.green_min or 70.0, model.yellow_min or 40.0
            )

    def _cs_health_svg(self, rows, green_min, yellow_min):
        c = self._CHART
        plot_w = c["width"] - c["left"] - c["right"]
        plot_h = c["height"] - c["top"] - c["bottom"]
        first, last = rows[0]["date"], rows[-1]["date"]
        span = max((last - first).days, 1)

        def x(day):
            return round(c["left"] + (day - first).days / span * plot_w, 1)

        def y(score):
            return round(c["top"] + (100.0 - max(min(score, 100.0), 0.0)) / 100.0 * plot_h, 1)

        parts = []
        for low, high, zone in (
            (green_min, 100.0, "green"),
            (yellow_min, green_min, "yellow"),
            (0.0, yellow_min, "red"),
        ):
            parts.append(
                Markup("<rect x='%s' y='%s' width='%s' height='%s' fill='%s' fill-opacity='0.12'/>")
                % (c["left"], y(high), plot_w, round(y(low) - y(high), 1), self._ZONE_COLORS[zone])
            )

        def label(x_at, y_at, anchor, text):
            return Markup(
                "<text x='%s' y='%s' font-size='10' text-anchor='%s' fill='#6c757d'>%s</text>"
            ) % (x_at, y_at, anchor, text)

        for tick in sorted({0.0, yellow_min, green_min, 100.0}):
            parts.append(label(c["left"] - 4, y(tick) + 3, "end", round(tick)))
        for day, anchor in ((first, "start"), (last, "end")):
            parts.append(label(x(day), c["height"] - 6, anchor, format_date(self.env, day)))
        points = " ".join("%s,%s" % (x(r["date"]), y(r["score"])) for r in rows)
        parts.append(
            Markup("<polyline points='%s' fill='none' stroke='#495057' stroke-width='1.5'/>")
            % points
        )
        for row in rows:
            parts.append(
                Markup("<circle cx='%s' cy='%s' r='2.5' fill='%s'><title>%s: %s</title></circle>")
                % (
                    x(row["date"]),
                    y(row["score"]),
                    self._ZONE_COLORS.get(row["zone"], "#495057"),
                    format_date(self.env, row["date"]),
                    round(row["score"], 1),
                )
            )
        title = self.env._("Health score, last %(days)s days", days=self._CHART_DAYS)
        return (
            Markup(
                "<svg class='o_cs_health_chart' viewBox='0 0 %s %s' role='img' aria-label='%s' "
                "style='width:100%%;max-width:%spx;height:auto'><title>%s</title>"
            )
            % (c["width"], c["height"], title, c["width"], title)
            + Markup("").join(parts)
            + Markup("</svg>")
        )

    @api.constrains("cs_health_override", "cs_health_override_reason", "cs_health_locked")
    def _check_cs_health_override(self):
        for partner in self:
            if partner.cs_health_locked or partner.cs_health_override:
                if not 0 <= partner.cs_health_override <= 100:
                    raise ValidationError(self.env._("A manual score is between 0 and 100."))
                if not partner.cs_health_override_reason:
                    raise ValidationError(
                        self.env._(
                            "Give a reason for the manual health score of %(name)s.",
                            name=partner.display_name,
                        )
                    )

    def write(self, vals):
        override = {"cs_health_override", "cs_health_locked"}.intersection(vals)
        res = super().write(vals)
        if override and not self.env.context.get("cs_health_internal"):
            overridden = self.filtered(lambda p: p.cs_health_locked or p.cs_health_override)
            for partner in overridden:
                model = partner.cs_health_model_id
                zone = health_service.zone_for(
                    partner.cs_health_override, model.green_min or 70.0, model.yellow_min or 40.0
                )
                partner.with_context(cs_health_internal=True).write(
                    {
                        "health_score": partner.cs_health_override,
                        "health_zone": zone,
                        "cs_health_override_user_id": self.env.uid,
                    }
                )
                partner.message_post(
                    body=self.env._(
                        "Health score set by hand to %(score)s (%(reason)s)%(lock)s.",
                        score=partner.cs_health_override,
                        reason=partner.cs_health_override_reason,
                        lock=self.env._(", locked") if partner.cs_health_locked else "",
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return res
