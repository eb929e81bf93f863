/** @odoo-module */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// A CSM opens the Customer Success app, finds a customer in "Accounts" and reads
// the customer card: MRR, renewal, payment status and both subscriptions.
registry.category("web_tour.tours").add("customer_success_card_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps(
            "customer_success.menu_customer_success_root",
            "Open the Customer Success app"
        ),
        {
            content: "The accounts list shows the customer with its MRR",
            trigger: ".o_list_view .o_data_row:contains('Card Test Customer')",
        },
        {
            content: "Open the customer card",
            trigger: ".o_data_row td[name='name']:contains('Card Test Customer')",
            run: "click",
        },
        {
            content: "MRR and ARR are on the card",
            trigger: ".o_cs_kpis [name='cs_mrr']:contains('1,100.00')",
        },
        {
            trigger: ".o_cs_kpis [name='cs_payment_status']:contains('Overdue')",
        },
        {
            trigger: ".o_cs_kpis [name='cs_days_to_renewal']",
        },
        {
            content: "Both subscriptions, in two currencies",
            trigger: ".o_notebook [name='cs_subscription_ids'] .o_data_row:eq(1)",
        },
        {
            trigger: ".o_notebook [name='cs_subscription_ids'] .o_data_row:contains('₸')",
        },
        {
            content: "The MRR history tab lists the movements",
            trigger: ".o_notebook a[name='cs_mrr_history']",
            run: "click",
        },
        {
            trigger: ".o_notebook [name='cs_mrr_movement_ids'] .o_data_row:contains('New')",
        },
    ],
});
