# customer_success: set-up, tests and demo. Odoo 18.0 must be installed for python3.
PYTHON ?= python3
CONF := .build/odoo.conf
DEMO_DB ?= cs_demo
DEMO_CUSTOMERS ?= 200
DEMO_LANG ?= en_US
ODOO := $(PYTHON) -m odoo

.PHONY: setup test demo demo-db bench-webhooks bench-inbox bench-scoring lint clean

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
	$(PYTHON) tools/make_demo.py --db $(DEMO_DB) --customers $(DEMO_CUSTOMERS) --lang $(DEMO_LANG)

# Stripe webhooks vs Odoo's /web/health with 2 HTTP workers; last line is JSON.
bench-webhooks:
	@test -f $(CONF) || (echo "Run 'make setup' first." && exit 1)
	$(PYTHON) tools/bench_webhooks.py

# The inbox job alone: CPU (Odoo and PostgreSQL) to apply a Stripe event; last line is JSON.
bench-inbox:
	@test -f $(CONF) || (echo "Run 'make setup' first." && exit 1)
	$(PYTHON) tools/bench_inbox.py

# Daily health recompute of 100k customers vs one set-based SQL statement; last line is JSON.
bench-scoring:
	@test -f $(CONF) || (echo "Run 'make setup' first." && exit 1)
	$(PYTHON) tools/bench_scoring.py

lint:
	ruff check . && ruff format --check .

clean:
	rm -rf .build
