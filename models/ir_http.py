# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.http import request

from ..services.providers.common import MAX_BODY


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        super()._pre_dispatch(rule, args)
        httprequest = request.httprequest
        if (
            rule.endpoint.routing.get("cs_raw_body")
            and httprequest.mimetype == "application/x-www-form-urlencoded"
            and 0 < (httprequest.content_length or 0) <= MAX_BODY
        ):
            # Odoo parses a form body into the request parameters before the
            # controller runs, which consumes it; a provider's signature covers the
            # raw bytes (CloudPayments' Content-HMAC), so a route flagged
            # ``cs_raw_body`` keeps them first.
            httprequest.get_data(cache=True)
