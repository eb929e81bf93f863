#!/usr/bin/env bash
# Everything customer_success needs on a Debian machine where Odoo 18.0 is installed
# for the python3 first on PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 tools/check_odoo.py

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v wkhtmltopdf >/dev/null 2>&1 || need_apt+=(wkhtmltopdf)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "Installing from Debian: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

echo "Installing Python dependencies from PyPI"
python3 -m pip install -q --disable-pip-version-check -r requirements.txt

# PostgreSQL: a running cluster and a login role for Odoo (Odoo refuses 'postgres').
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_createcluster "$ver" main
fi
pg_lsclusters -h | while read -r ver name _port status _rest; do
    if [ "$status" != "online" ]; then
        pg_ctlcluster "$ver" "$name" start
    fi
done
for _ in $(seq 1 30); do
    su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1 && break
    sleep 1
done
db_user="${CS_DB_USER:-odoo}"
db_password="${CS_DB_PASSWORD:-odoo}"
if ! su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$db_user'\"" | grep -q 1; then
    su postgres -c "psql -qc \"CREATE ROLE $db_user LOGIN CREATEDB PASSWORD '$db_password'\""
fi

python3 tools/write_config.py
echo "Setup done. Next: make test (test suite) or make demo (demo database on http://localhost:8069)."
