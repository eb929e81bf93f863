# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Make the addon discoverable as ``customer_success`` and write .build/odoo.conf.

The repository root is the addon; it may be cloned into a folder of any name,
so a symlink named ``customer_success`` gives Odoo the technical name. The
symlink and Odoo's data directory live outside the repository (under
``~/.local/share/customer_success/<checkout hash>``): a link back to the
repository inside it would make every tree walk (Odoo's translation export,
linters) loop forever.
"""

import hashlib
import os
import sys
from pathlib import Path

import odoo.addons

root = Path(__file__).resolve().parent.parent
build = root / ".build"
build.mkdir(exist_ok=True)
state = (
    Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    / "customer_success"
    / hashlib.sha1(str(root).encode()).hexdigest()[:12]
)
addons = state / "addons"
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
        state / "data",
    )
)
print("Addon linked at %s; configuration written to %s" % (link, conf))
sys.exit(0)
