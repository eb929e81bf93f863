# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError

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
