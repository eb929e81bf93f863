# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import psycopg2

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..hooks import uninstall_hook
from .common import CustomerSuccessCase


@tagged("post_install", "-at_install", "customer_success")
class TestUninstall(CustomerSuccessCase):
    """SPEC M1: the addon uninstalls cleanly (a real uninstall of the demo database was
    checked by hand: no error, no table or column left, the to-dos kept)."""

    def test_payment_issue_to_dos_survive_as_to_dos_and_the_type_goes(self):
        issue = self.env.ref("customer_success.mail_activity_type_payment_issue")
        todo = self.env.ref("mail.mail_activity_data_todo")
        subscription = self._subscription()
        activity = subscription.activity_schedule(
            activity_type_id=issue.id, summary="Payment failed", user_id=self.env.uid
        )
        # What Odoo's uninstall runs into without the hook.
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                issue.unlink()
        uninstall_hook(self.env)
        self.assertEqual(activity.activity_type_id, todo)
        self.assertEqual(activity.summary, "Payment failed")
        self.assertEqual(activity.res_id, subscription.id)
        issue.unlink()  # what the uninstall then does
        self.assertFalse(issue.exists())
