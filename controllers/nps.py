# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hmac

from odoo import http
from odoo.exceptions import ValidationError
from odoo.http import request


class NpsController(http.Controller):
    """The public NPS page: the link in the survey email, protected by its token."""

    def _survey(self, survey_id, token):
        survey = request.env["cs.nps.survey"].sudo().browse(survey_id).exists()
        if not survey or not token or not hmac.compare_digest(survey.access_token or "", token):
            return None
        return survey

    @http.route(
        "/customer_success/nps/<int:survey_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=False,
        sitemap=False,
        readonly=False,
    )
    def nps_page(self, survey_id, token, **post):
        survey = self._survey(survey_id, token)
        if survey is None:
            return request.render(
                "customer_success.nps_page", {"survey": None, "error": "not_found"}, status=404
            )
        values = {"survey": survey, "token": token, "error": None, "done": False}
        if request.httprequest.method == "POST":
            try:
                survey._record_answer(post.get("score"), post.get("comment"))
                values["done"] = True
            except ValidationError as exc:
                values["error"] = exc.args[0]
                return request.render("customer_success.nps_page", values, status=400)
        elif survey.state != "sent":
            values["error"] = (
                request.env._("This survey was already answered. Thank you!")
                if survey.state == "answered"
                else request.env._("This survey has expired.")
            )
        return request.render("customer_success.nps_page", values)
