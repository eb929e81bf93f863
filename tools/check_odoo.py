# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fail with a clear message unless Odoo 18.0 is importable by this python3."""

import sys

try:
    import odoo.release
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "customer_success needs Odoo 18.0 installed in the Python environment of "
        "'%s' (import odoo failed: %s).\nInstall Odoo 18.0 first, for example from its "
        "source tree: pip install -r requirements.txt && pip install . "
        "(see https://www.odoo.com/documentation/18.0/administration/on_premise/source.html), "
        "then run 'make setup' again.\n" % (sys.executable, exc)
    )
    sys.exit(1)
if odoo.release.version_info[:2] != (18, 0):
    sys.stderr.write(
        "customer_success needs Odoo 18.0, found Odoo %s at %s.\n"
        % (odoo.release.version, odoo.__path__[0])
    )
    sys.exit(1)
print("Odoo %s found at %s" % (odoo.release.version, odoo.__path__[0]))
