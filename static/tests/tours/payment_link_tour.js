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

// The CSM presses Payment Link again while the link of that invoice still waits: it
// opens, said why, rather than a second link the customer could pay too.
registry.category("web_tour.tours").add("customer_success_payment_link_again_tour", {
    steps: () => [
        {
            content: "The subscription offers a payment link",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_cs_payment_link']",
            run: "click",
        },
        {
            content: "The CSM is told a request of that invoice waits already",
            trigger: ".o_notification:contains('already has a payment request waiting')",
        },
        {
            content: "That request opens, its link ready to copy or email again",
            trigger: ".o_form_view [name='payment_link']:contains('auth.robokassa.ru/Merchant/Index.aspx')",
        },
        {
            content: "It can be emailed again",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_send_by_email']",
        },
    ],
});
