/** @odoo-module */
import { registry } from "@web/core/registry";

// A CSM presses Payment Link on a subscription billed through a Kaspi account that
// sends invoices to the Kaspi app: the invoice goes to the customer's phone, and the
// request says to which number, with no link to copy or email. The customer would
// rather pay by link: the CSM replaces it by one, which the new request shows.
registry.category("web_tour.tours").add("customer_success_kaspi_app_invoice_tour", {
    steps: () => [
        {
            content: "The subscription offers a payment link",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_cs_payment_link']",
            run: "click",
        },
        {
            content: "The invoice went to the customer's phone in the Kaspi app",
            trigger: ".o_form_view [name='phone']:contains('+7 701 234 56 78')",
        },
        {
            content: "Its request says so",
            trigger: ".o_form_view [name='last_message']:contains('Invoice sent to the Kaspi app')",
        },
        {
            content: "There is no link to copy, nor to email",
            trigger: ".o_form_view:not(:has([name='payment_link'])):not(:has(button[name='action_send_by_email']))",
        },
        {
            content: "Waiting for the customer's tap",
            trigger: ".o_form_view .o_statusbar_status [aria-checked='true']:contains('Waiting for payment')",
        },
        {
            content: "The customer would rather pay by link",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_kaspi_link_instead']",
            run: "click",
        },
        {
            content: "The CSM confirms: the invoice in the app is cancelled",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The new request carries a link to copy or email",
            trigger: ".o_form_view [name='payment_link']:contains('https://pay.kaspi.kz/pay/40')",
        },
        {
            content: "It says why it is a link",
            trigger: ".o_form_view [name='last_message']:contains('instead of an invoice to the Kaspi app')",
        },
        {
            content: "And can be emailed",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_send_by_email']",
        },
    ],
});
