"""Imports every table module so `Base.metadata` knows the whole schema.

The composition of every domain's tables (beside the other packages, not in `db/`, which imports
no domain). Used by migrations and tests; defines nothing.
"""

from propbridge.auth import models as auth_models
from propbridge.billing import models as billing_models
from propbridge.console import models as console_models
from propbridge.db import table_versions, usage_windows
from propbridge.idempotency import models as idempotency_models
from propbridge.integrations import models as integration_models
from propbridge.jobs import models as job_models
from propbridge.residents import models as resident_models
from propbridge.sync import models as sync_models
from propbridge.units import models as unit_models
from propbridge.webhooks import models as webhook_models
from propbridge.writes import models as write_models

__all__ = [
    "auth_models",
    "billing_models",
    "console_models",
    "idempotency_models",
    "integration_models",
    "job_models",
    "resident_models",
    "sync_models",
    "table_versions",
    "unit_models",
    "usage_windows",
    "webhook_models",
    "write_models",
]
