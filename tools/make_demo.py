# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Create the demo database: a Kazakh SaaS company (KZT) with a generated book.

python3 tools/make_demo.py --db cs_demo --customers 200 [--lang ru_RU]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / ".build" / "odoo.conf"


def odoo_cli(*args):
    cmd = [sys.executable, "-m", "odoo", "-c", str(CONF), *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="cs_demo")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--lang", default="en_US", help="e.g. ru_RU for the admin user")
    opts = parser.parse_args()
    started = time.time()

    import odoo
    from odoo import SUPERUSER_ID
    from odoo import api

    odoo.tools.config.parse_config(["-c", str(CONF)], setup_logging=False)
    odoo.service.db.exp_drop(opts.db)
    # 1. base only, so that the company is Kazakh before accounting installs its chart.
    odoo_cli(
        "-d", opts.db, "-i", "base", "--without-demo=all", "--stop-after-init", "--log-level=warn"
    )
    registry = odoo.modules.registry.Registry(opts.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        kzt = env.ref("base.KZT")
        kzt.active = True
        env.company.write(
            {
                "name": "Tabys Cloud LLP",
                "country_id": env.ref("base.kz").id,
                "currency_id": kzt.id,
                "city": "Almaty",
                "email": "hello@tabys.example",
            }
        )
    odoo.sql_db.close_all()
    # 2. the addon and everything it depends on (Kazakh chart of accounts included).
    odoo_cli(
        "-d",
        opts.db,
        "-i",
        "customer_success",
        "--without-demo=all",
        "--stop-after-init",
        "--log-level=warn",
    )
    # 3. the book.
    registry = odoo.modules.registry.Registry.new(opts.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if opts.lang != "en_US":
            # As Settings → Languages → Add does: every installed module's terms (Odoo's
            # own too: a partner's City, the countries), then the administrator's
            # language, in which the generator names plans and writes the inbox's notes.
            lang = (
                env["res.lang"].with_context(active_test=False).search([("code", "=", opts.lang)])
            )
            if not lang:
                raise SystemExit("Unknown language %r (e.g. ru_RU, kk_KZ)." % opts.lang)
            lang.active = True
            env["ir.module.module"].search([("state", "=", "installed")])._update_translations(
                [opts.lang]
            )
            env.ref("base.user_admin").lang = opts.lang
        stats = env["cs.demo.generator"]._generate(
            customers=opts.customers, months=opts.months, seed=opts.seed
        )
    print("Demo database %s ready in %.0f s: %s" % (opts.db, time.time() - started, stats))
    print("Serve it with: make demo (http://localhost:8069, admin / admin)")


if __name__ == "__main__":
    main()
