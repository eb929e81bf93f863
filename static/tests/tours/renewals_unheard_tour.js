/** @odoo-module */
import { registry } from "@web/core/registry";

// The responsible of a Stripe account reads that renewals went unheard of, lists the
// subscriptions concerned and opens one: Stripe's webhooks may no longer arrive.
registry.category("web_tour.tours").add("customer_success_renewals_unheard_tour", {
    steps: () => [
        {
            content: "The account warns that renewals are unheard of",
            trigger: ".o_form_view div[name='unheard_warning']:contains('Renewals unheard of')",
        },
        {
            content: "List them",
            trigger: ".o_form_view button[name='action_view_unheard']",
            run: "click",
        },
        {
            content: "The subscription whose renewal Stripe told nothing of",
            trigger: ".o_list_view .o_data_row .o_data_cell:contains('Vostok LLP')",
            run: "click",
        },
        {
            content: "Its form says so",
            trigger: ".o_form_view .o_field_widget[name='cs_renewal_unheard'] input:checked",
        },
    ],
});
