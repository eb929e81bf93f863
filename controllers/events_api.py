# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging

from odoo import http
from odoo.http import request

from ..services import usage as usage_service
from .webhook import _answer

_logger = logging.getLogger(__name__)


class UsageEventsApi(http.Controller):
    """``POST /customer_success/api/v1/events``: product usage and signals (SPEC C1, C2).

    Bearer API key (per integration and company). Body: ``{"events": [...]}`` or a
    bare list of at most 1000 events, 1 MB. Valid events are stored even when
    others fail; the answer lists the failing ones by index.
    """

    @http.route(
        "/customer_success/api/v1/events",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def events(self, **_params):
        httprequest = request.httprequest
        auth = httprequest.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return _answer(401, error="Send the API key as 'Authorization: Bearer <key>'.")
        if not request.db:
            return _answer(400, error="No database selected.")
        env = request.env(user=1)  # auth="none": no user yet; the key decides the company
        api_key = env["cs.api.key"]._authenticate(auth[len("Bearer ") :].strip())
        if not api_key:
            return _answer(401, error="Unknown or revoked API key.")
        if (httprequest.content_length or 0) > usage_service.MAX_BODY:
            return _answer(413, error="Body larger than 1 MB.")
        # cache=True: Odoo replays the request on a serialization failure.
        body = httprequest.get_data(cache=True)
        if len(body) > usage_service.MAX_BODY:
            return _answer(413, error="Body larger than 1 MB.")
        if (httprequest.mimetype or "") != "application/json":
            return _answer(415, error="Content-Type must be application/json.")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _answer(400, error="The body is not valid JSON.")
        items = data.get("events") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return _answer(400, error='Send {"events": [...]} or a JSON list of events.')
        if len(items) > usage_service.MAX_ITEMS:
            return _answer(
                413,
                error="At most %d events per request, got %d."
                % (usage_service.MAX_ITEMS, len(items)),
            )
        company = api_key.company_id
        Event = env["cs.usage.event"].with_company(company)
        accepted, duplicates, errors = Event._ingest(company, items, api_key=api_key)
        status = 422 if errors else 200
        return _answer(
            status, accepted=accepted, duplicates=duplicates, rejected=len(errors), errors=errors
        )
