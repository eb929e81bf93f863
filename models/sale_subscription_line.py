# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api
from odoo import models
from odoo.exceptions import ValidationError

_PRICE_FIELDS = {"product_id", "price_unit", "product_uom_qty", "discount", "sale_subscription_id"}


class SaleSubscriptionLine(models.Model):
    _inherit = "sale.subscription.line"

    @api.constrains("product_uom_qty", "price_unit", "discount")
    def _check_cs_amounts(self):
        for line in self:
            if line.product_uom_qty < 0:
                raise ValidationError(
                    self.env._("The quantity of a subscription line cannot be negative.")
                )
            if line.price_unit < 0:
                raise ValidationError(
                    self.env._(
                        "The unit price of a subscription line cannot be negative: "
                        "use a discount instead."
                    )
                )
            if not 0 <= line.discount <= 100:
                raise ValidationError(self.env._("A discount must be between 0 and 100 %."))

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.sale_subscription_id._cs_sync_ledger()
        return lines

    def write(self, vals):
        before = self.sale_subscription_id
        res = super().write(vals)
        if _PRICE_FIELDS.intersection(vals):
            (before | self.sale_subscription_id)._cs_sync_ledger()
        return res

    def unlink(self):
        subs = self.sale_subscription_id
        res = super().unlink()
        subs.exists()._cs_sync_ledger()
        return res
