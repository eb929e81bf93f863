# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.http import request

WEBHOOK_PREFIX = "/customer_success/webhook/"
RAW_BODY_LIMIT = 1024 * 1024  # the webhook's own limit (controllers/webhook.py)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        super()._pre_dispatch(rule, args)
        httprequest = request.httprequest
        if (
            httprequest.path.startswith(WEBHOOK_PREFIX)
            and httprequest.mimetype == "application/x-www-form-urlencoded"
            and 0 < (httprequest.content_length or 0) <= RAW_BODY_LIMIT
        ):
            # Odoo parses a form body into the request parameters before the
            # controller runs, which consumes it; a provider's signature covers the
            # raw bytes (CloudPayments' Content-HMAC), so keep them first.
            httprequest.get_data(cache=True)
