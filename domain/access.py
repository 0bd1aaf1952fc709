"""Who may do what, and who may see which accounts: the only two questions of access (docs/ACCESS.md).

`require` answers "may this viewer do X"; `visible` answers "which rows of a model may this viewer see".
Every query and every lookup by id goes through `visible`, so a hidden record and an absent one read the same.
"""

from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

import models
from domain.errors import DomainError, ErrorCode, not_found
from models.enums import Permission, TokenKind

M = TypeVar("M", bound=Model)

# Permissions that only make sense together with another one (docs/ACCESS.md).
REQUIRES = {Permission.BILLING_SEND_EXPORT: Permission.BILLING_ACCESS}


@dataclass
class Viewer:
    """The authenticated caller of one request: a user, through a session or an API token."""

    user_id: int
    email: str
    name: str
    permissions: frozenset[Permission]
    token_id: int
    token_kind: TokenKind
    extra: dict = field(default_factory=dict, compare=False)

    def can(self, permission: Permission) -> bool:
        needed = REQUIRES.get(permission)
        return permission in self.permissions and (needed is None or needed in self.permissions)

    @property
    def label(self) -> str:
        """How the viewer is named on audit rows and events that colleagues read: the display name, never the
        e-mail (sign-in names are not for every reader)."""
        return self.name


SYSTEM_LABEL = "system"


def require(viewer: Viewer, permission: Permission) -> None:
    """Refuse with PERMISSION_DENIED unless the viewer holds `permission`."""
    if not viewer.can(permission):
        raise DomainError(ErrorCode.PERMISSION_DENIED, f"This action needs the {permission.value} permission.")


# How each account-owned model reaches its account; models absent here are not account-owned.
ACCOUNT_PATH: dict[type[Model], str] = {
    models.Account: "",
    models.SalesContract: "account",
    models.RecurringCharge: "contract__account",
    models.DatedPrice: "charge__contract__account",
    models.WorkOrder: "account",
    models.ManualCharge: "account",
    models.ServiceChange: "charge__contract__account",
    models.InvoiceAdjustment: "account",
    models.PeriodicBilling: "account",
    models.BillingDetail: "billing__account",
    models.Invoice: "account",
    models.Payment: "invoice__account",
    models.Delivery: "invoice__account",
    models.JournalEntry: "invoice__account",
    models.JournalLine: "entry__invoice__account",
    models.CreditNote: "account",
    models.CreditNoteLine: "credit_note__account",
}

# Records about an account when they name one, and about the company when not: hidden with a hidden account.
MAYBE_ACCOUNT_OWNED = (models.Finding, models.Notification, models.Audit, models.Event)

# What only admins see (and manage): the webhook endpoints and their delivery log.
ADMIN_ONLY = (models.WebhookEndpoint, models.WebhookDelivery)

# Shared reference data any billing user may read.
BILLING_REFERENCE = (
    models.ApprovalRule,
    models.BillingSchedule,
    models.LedgerAccount,
    models.TaxRate,
    models.AccountingPeriod,
    models.BillingBatch,
    models.Job,
)


def sees_all_accounts(viewer: Viewer) -> bool:
    """Admins manage the grants, so they see restricted accounts too (docs/ACCESS.md)."""
    return viewer.can(Permission.ADMIN)


def account_visibility(viewer: Viewer, path: str = "") -> Q:
    """The condition on an account (reached through `path`) that makes it visible to `viewer`."""
    if sees_all_accounts(viewer):
        return Q()
    return granted_visibility(viewer.user_id, path)


def granted_visibility(user_id: int, path: str = "") -> Q:
    """Open accounts, those granted to this user and those granted to a team the user is a member of now: what
    a user who is not an admin sees. Membership is read by the query itself, so leaving a team hides its
    accounts at the next request. (Background jobs re-check with it what the user who started them may see at
    the time they run.)"""
    prefix = f"{path}__" if path else ""
    granted = Subquery(models.AccountGrant.filter(user_id=user_id).values("account_id"))
    via_team = Subquery(models.AccountTeamGrant.filter(
        team_id__in=Subquery(models.TeamMember.filter(user_id=user_id).values("team_id"))).values("account_id"))
    open_accounts: dict[str, Any] = {f"{prefix}restricted": False}
    granted_accounts: dict[str, Any] = {f"{prefix}id__in": granted}
    team_accounts: dict[str, Any] = {f"{prefix}id__in": via_team}
    return Q(**open_accounts) | Q(**granted_accounts) | Q(**team_accounts)


def visible(viewer: Viewer, model: type[M]) -> QuerySet[M]:
    """Every row of `model` the viewer may see (an empty set when it may see none)."""
    if model is models.User:
        if viewer.can(Permission.ADMIN):
            return model.all()
        return model.filter(id=viewer.user_id)
    if model is models.AccessToken:
        if viewer.can(Permission.ADMIN):
            return model.all()
        return model.filter(user_id=viewer.user_id)
    if model in ADMIN_ONLY:  # the company's webhooks: for admins, absent for everyone else
        return model.all() if viewer.can(Permission.ADMIN) else model.filter(id__in=[])
    if model is models.Team:
        if viewer.can(Permission.ADMIN):
            return model.all()
        return model.filter(id__in=Subquery(models.TeamMember.filter(user_id=viewer.user_id).values("team_id")))
    if model is models.ApprovalRule and viewer.can(Permission.ADMIN):
        return model.all()  # admins manage the rules, billing users read them
    if not viewer.can(Permission.BILLING_ACCESS):
        return model.filter(id__in=[])
    if model in ACCOUNT_PATH:
        return model.filter(account_visibility(viewer, ACCOUNT_PATH[model]))
    if model in MAYBE_ACCOUNT_OWNED:
        if sees_all_accounts(viewer):
            return model.all()
        return model.filter(Q(account_id=None) | Q(account_id__in=Subquery(
            visible(viewer, models.Account).values("id"))))
    if model is models.Export:
        # A batch's export lists all its invoices: hidden from whoever may not see every one of them.
        if sees_all_accounts(viewer):
            return model.all()
        return model.exclude(batch_id__in=Subquery(hidden(viewer, models.Invoice).values("batch_id")))
    if model in BILLING_REFERENCE:
        return model.all()
    raise LookupError(f"No visibility rule for {model.__name__}")  # a programming error, never user input


def hidden(viewer: Viewer, model: type[M]) -> QuerySet[M]:
    """The rows of an account-owned `model` whose account is hidden from the viewer (none for a viewer who sees
    every account): what the explicit hidden counts count, and what posting and reversal refuse to touch."""
    if sees_all_accounts(viewer):
        return model.filter(id__in=[])
    return model.exclude(account_visibility(viewer, ACCOUNT_PATH[model]))


async def get_visible(viewer: Viewer, model: type[M], pk: int, what: str | None = None,
                                field: str | None = "id") -> M:
    """Fetch one row by id through the viewer's scope, or refuse with NOT_FOUND."""
    row = await visible(viewer, model).get_or_none(id=pk)
    if row is None:
        raise not_found(what or model.__name__, field)
    return row
