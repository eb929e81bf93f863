# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import demo_book
from . import health
from . import mrr
from . import providers
from . import segment
from . import usage
