# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Install / uninstall hooks."""


def uninstall_hook(env):
    """Keep the CSMs' open *Payment issue* to-dos as plain to-dos.

    Uninstalling deletes the addon's activity type, which PostgreSQL refuses while
    activities still use it (the type would stay behind, orphaned, and the uninstall
    log an error); the to-dos themselves are on subscriptions, which stay.
    """
    issue = env.ref("customer_success.mail_activity_type_payment_issue", raise_if_not_found=False)
    todo = env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
    if not issue:
        return
    activities = (
        env["mail.activity"]
        .with_context(active_test=False)
        .search([("activity_type_id", "=", issue.id)])
    )
    if todo:
        activities.write({"activity_type_id": todo.id})
    else:  # pragma: no cover - mail always ships its To-Do type
        activities.unlink()
