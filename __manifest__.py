# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Customer Success",
    "summary": "Subscriptions, MRR ledger and one customer card for SaaS customer success teams",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/customer-success/customer_success",
    "author": "customer_success authors",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["crm", "sale_management", "account", "mail", "subscription_oca"],
    "external_dependencies": {"python": ["python-dateutil", "stripe", "yookassa", "requests"]},
    "data": [
        "security/customer_success_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/res_lang_data.xml",
        "data/mail_template_data.xml",
        "views/sale_subscription_views.xml",
        "views/cs_mrr_movement_views.xml",
        "views/cs_billing_event_views.xml",
        "views/cs_billing_account_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/cs_assign_csm_views.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/customer_success_demo.xml"],
    "assets": {
        "web.assets_tests": ["customer_success/static/tests/tours/*.js"],
    },
}
