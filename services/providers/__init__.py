# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Billing provider adapters: authenticity checks and payload reading, no ORM."""

from . import common
from . import kaspi_adapter
from . import stripe_adapter
from . import yookassa_adapter
