# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the benchmarks share: a fresh database with the addon installed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"


def fresh_database(db):
    """Drop ``db`` and install customer_success in it (no demo data); return its registry."""
    import odoo

    odoo.service.db.exp_drop(db)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "-c",
            str(CONF),
            "-d",
            db,
            "-i",
            "customer_success",
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=warn",
        ],
        check=True,
    )
    return odoo.modules.registry.Registry(db)
