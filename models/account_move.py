# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        # A provider payment that came first pays it (before any payment link is
        # queued for it): an accountant posting needs no Customer Success rights.
        self.env["cs.billing.event"].sudo()._pay_posted_invoices(posted)
        posted.subscription_id.sudo()._cs_refresh_payment_status()
        self.env["cs.billing.payment.request"]._request_for_invoices(posted)
        return posted

    def _invoice_paid_hook(self):
        res = super()._invoice_paid_hook()
        self.subscription_id.sudo()._cs_refresh_payment_status()
        self.env["cs.billing.payment.request"].sudo()._take_back_soon(self)
        return res

    def button_draft(self):
        res = super().button_draft()
        self.subscription_id.sudo()._cs_refresh_payment_status()
        return res
