# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import cs_assign_csm
from . import cs_billing_reconcile
from . import cs_usage_import
