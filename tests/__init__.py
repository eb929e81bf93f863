# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_billing_cloudpayments
from . import test_billing_fuzz
from . import test_billing_kaspi
from . import test_billing_reconcile
from . import test_billing_robokassa
from . import test_billing_stripe
from . import test_billing_unheard
from . import test_billing_yookassa
from . import test_customer_card
from . import test_demo_generator
from . import test_health
from . import test_i18n
from . import test_install
from . import test_mrr_ledger
from . import test_mrr_service
from . import test_nps
from . import test_security
from . import test_signals
from . import test_subscription_mrr
from . import test_usage_api
from . import test_validation
