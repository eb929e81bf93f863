/** @odoo-module */
import { registry } from "@web/core/registry";

// A CSM opens a subscription whose saved card YooKassa declined, reads when the card
// is charged again, opens that charge from the subscription's payment links and
// calls it off, as the customer asked to pay another way.
registry.category("web_tour.tours").add("customer_success_autopay_retry_tour", {
    steps: () => [
        {
            content: "The subscription says when the card is charged again",
            trigger: ".o_form_view .o_field_widget[name='cs_autopay_retry_at']",
        },
        {
            content: "Its payment links, the charge queued among them",
            trigger: ".o_form_view button[name='action_cs_view_payment_links']",
            run: "click",
        },
        {
            content: "The charge of the saved card, not before its day",
            trigger: ".o_list_view .o_data_row:contains('Queued') .o_data_cell[name='subscription_id']",
            run: "click",
        },
        {
            content: "Call the retry off",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_cancel_retry']",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Called off: cancelled, with who did it",
            trigger: ".o_form_view [name='last_message']:contains('called off by')",
        },
    ],
});
