# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import account_move
from . import cs_api_key
from . import cs_billing_account
from . import cs_billing_event
from . import cs_billing_event_cloudpayments
from . import cs_billing_event_kaspi
from . import cs_billing_event_robokassa
from . import cs_billing_event_stripe
from . import cs_billing_event_yookassa
from . import cs_demo_generator
from . import cs_health
from . import cs_mrr_movement
from . import cs_nps_survey
from . import cs_usage_event
from . import ir_http
from . import res_company
from . import res_config_settings
from . import res_partner
from . import res_partner_health
from . import res_partner_signals
from . import sale_subscription
from . import sale_subscription_line
from . import sale_subscription_template
