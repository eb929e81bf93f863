# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import controllers
from . import hooks
from . import models
from . import services
from . import wizards
from .hooks import uninstall_hook
