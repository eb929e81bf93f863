/** @odoo-module */
import { registry } from "@web/core/registry";

// A CSM opens a subscription billed through Robokassa, makes a payment link for
// the amount due and finds the signed link ready to copy for the customer.
registry.category("web_tour.tours").add("customer_success_payment_link_tour", {
    steps: () => [
        {
            content: "The subscription offers a payment link",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_cs_payment_link']",
            run: "click",
        },
        {
            content: "The link for Robokassa's payment page is ready to copy",
            trigger: ".o_form_view [name='payment_link']:contains('auth.robokassa.ru/Merchant/Index.aspx')",
        },
        {
            content: "For the amount due",
            trigger: ".o_form_view [name='amount']:contains('15,000.00')",
        },
        {
            content: "Waiting for the customer's payment",
            trigger: ".o_form_view .o_statusbar_status [aria-checked='true']:contains('Waiting for payment')",
        },
    ],
});
