"""Browser views. Plain functions; every lookup goes through the selectors and every
write through the services."""

from sandboxes.views.access import (
    access_home,
    team_access,
    tenant_create,
    token_issue,
    token_revoke,
)
from sandboxes.views.activity import activity_home, team_activity
from sandboxes.views.approvals import approval_decide, approvals
from sandboxes.views.catalog import catalog, policies
from sandboxes.views.create import sandbox_create, sandbox_edit, sandbox_env_row
from sandboxes.views.dashboard import dashboard
from sandboxes.views.detail import (
    sandbox_delete,
    sandbox_delete_confirm,
    sandbox_detail,
    sandbox_expiry,
    sandbox_extend,
    sandbox_status,
)
from sandboxes.views.traffic import sandbox_traffic

__all__ = [
    "access_home",
    "activity_home",
    "approval_decide",
    "approvals",
    "catalog",
    "dashboard",
    "policies",
    "sandbox_create",
    "sandbox_delete",
    "sandbox_delete_confirm",
    "sandbox_detail",
    "sandbox_edit",
    "sandbox_env_row",
    "sandbox_expiry",
    "sandbox_extend",
    "sandbox_status",
    "sandbox_traffic",
    "team_access",
    "team_activity",
    "tenant_create",
    "token_issue",
    "token_revoke",
]
