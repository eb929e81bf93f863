# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Make the addon discoverable as ``customer_success`` and write .build/odoo.conf.

The repository root is the addon; it may be cloned into a folder of any name,
so a symlink ``.build/addons/customer_success`` gives Odoo the technical name.
"""
import os
import sys
from pathlib import Path

import odoo.addons

root = Path(__file__).resolve().parent.parent
build = root / ".build"
addons = build / "addons"
addons.mkdir(parents=True, exist_ok=True)
link = addons / "customer_success"
if link.is_symlink() or link.exists():
    link.unlink()
link.symlink_to(root, target_is_directory=True)
odoo_addons = [p for p in odoo.addons.__path__ if os.path.isdir(p)]
# odoo/addons (base, web, ...) ships inside the odoo package; make sure it is listed.
base_addons = Path(odoo.__file__).resolve().parent / "addons"
paths = [str(addons)] + [p for p in odoo_addons if Path(p).resolve() != addons.resolve()]
if str(base_addons) not in paths:
    paths.append(str(base_addons))
conf = build / "odoo.conf"
conf.write_text(
    "[options]\n"
    "addons_path = %s\n"
    "db_host = %s\n"
    "db_port = %s\n"
    "db_user = %s\n"
    "db_password = %s\n"
    "data_dir = %s\n"
    "admin_passwd = admin\n"
    "list_db = True\n"
    % (
        ",".join(dict.fromkeys(paths)),
        os.environ.get("PGHOST", "localhost"),
        os.environ.get("PGPORT", "5432"),
        os.environ.get("CS_DB_USER", "odoo"),
        os.environ.get("CS_DB_PASSWORD", "odoo"),
        build / "data",
    )
)
print("Addon linked at %s; configuration written to %s" % (link, conf))
sys.exit(0)
