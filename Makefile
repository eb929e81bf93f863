# customer_success: set-up, tests and demo. Odoo 18.0 must be installed for python3.
PYTHON ?= python3
CONF := .build/odoo.conf
DEMO_DB ?= cs_demo
DEMO_CUSTOMERS ?= 200
ODOO := $(PYTHON) -m odoo

.PHONY: setup test demo demo-db lint i18n clean

setup:
	bash tools/setup.sh

test:
	@test -f $(CONF) || (echo "Run 'make setup' first." && exit 1)
	$(PYTHON) tools/run_tests.py

# Build a fresh demo database (KZT company, generated book) and serve it on :8069.
demo: demo-db
	$(ODOO) -c $(CONF) -d $(DEMO_DB) --db-filter='^$(DEMO_DB)$$' --http-port 8069

demo-db:
	@test -f $(CONF) || (echo "Run 'make setup' first." && exit 1)
	$(PYTHON) tools/make_demo.py --db $(DEMO_DB) --customers $(DEMO_CUSTOMERS)

lint:
	ruff check . && ruff format --check .

clean:
	rm -rf .build
