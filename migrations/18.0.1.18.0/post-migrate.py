# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""1.18: the job that asked YooKassa about payments left waiting asks Robokassa too.

Its record is in a ``noupdate`` file, so an upgrade does not rewrite it: its code and
name are set here (the job's interval, as an administrator may have changed it, is
kept).
"""

from odoo import SUPERUSER_ID
from odoo import api


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    job = env.ref("customer_success.ir_cron_yookassa_poll", raise_if_not_found=False)
    if job:
        job.write(
            {
                "code": "model._cron_ask_providers()",
                "name": "Customer Success: ask YooKassa and Robokassa about payments left waiting",
            }
        )
