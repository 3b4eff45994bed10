"""The only door for writes. Every function validates, checks roles, quotas, allow-lists
and the data-isolation policy, writes in one transaction, records an audit event and
queues `reconcile_sandbox(id)` once the transaction commits.

Locks (docs/architecture.md, "Locking"): at most one row of each kind, always in the
order team -> sandbox -> approval -> catalog entries (the reconciler), each taken with
`FOR NO KEY UPDATE OF <that table>` through `_lock`. NO KEY UPDATE serialises writers of
the row but not the foreign-key checks of inserts that point at it (a fork, an audit
event), and `of=("self",)` keeps joined rows (tenant, team) unlocked.

Functions are keyword-only and named `<entity>_<action>`. They raise
`ValidationFailed` (field-level messages), `NotAllowed` or `Conflict`; never a bare 500.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from routing.keys import generate_routing_key
from sandboxes.errors import (
    Conflict,
    FieldErrors,
    NameTaken,
    NotAllowed,
    QuotaExceeded,
    ValidationFailed,
)
from sandboxes.models import (
    TOKEN_PREFIX,
    ApiToken,
    Approval,
    ApprovalState,
    AuditEvent,
    BaselineService,
    DataIsolationPolicy,
    Fork,
    IdempotencyKey,
    Membership,
    Profile,
    Role,
    Sandbox,
    SpecRevision,
    Team,
    Tenant,
    TenantKind,
)
from sandboxes.spec_checks import ForkSpec, check_common, check_forks
from sandboxes.validation import (
    SANDBOX_NAME_MAX,
    dns1123_label_errors,
    text_errors,
    ttl_errors,
)

User = AbstractBaseUser
DEFAULT_APPROVAL_VALIDITY = timedelta(hours=24)
MAX_APPROVAL_VALIDITY = timedelta(days=30)
REASON_MAX = 500
MAX_TOKEN_TTL = timedelta(days=10 * 365)


# --- Shared pieces -----------------------------------------------------------------------
def _audit(
    *,
    team: Team,
    actor: User | None,
    verb: str,
    target: str,
    sandbox: Sandbox | None = None,
    token: ApiToken | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        team=team,
        actor=actor,
        token=token,
        sandbox=sandbox,
        verb=verb,
        target=target,
        data=data or {},
    )


def _lock(queryset: Any, pk: int) -> Any:
    """The one way services lock a row: FOR NO KEY UPDATE of that row only."""
    return queryset.select_for_update(no_key=True, of=("self",)).get(pk=pk)


def _lock_sandbox(sandbox: Sandbox) -> Sandbox:
    return _lock(Sandbox.objects.select_related("tenant__team"), sandbox.pk)


def _enqueue_reconcile(sandbox_id: int) -> None:
    from sandboxes.queueing import queue_reconcile

    transaction.on_commit(partial(queue_reconcile, sandbox_id))


def _role_in(team: Team, actor: User) -> str | None:
    membership = Membership.objects.filter(team=team, user=actor).only("role").first()
    return membership.role if membership else None


def _require_member(team: Team, actor: User) -> str:
    role = _role_in(team, actor)
    if role is None:
        # Callers look objects up through selectors, so this only guards misuse.
        raise NotAllowed(f"You are not a member of team {team.slug}.")
    return role


def _check_token_scope(token: ApiToken | None, tenant: Tenant) -> None:
    if token is not None and token.tenant_id is not None and token.tenant_id != tenant.pk:
        raise NotAllowed(f"This API token may only act for tenant {token.tenant}.")


def _write_forks(sandbox: Sandbox, forks: list[ForkSpec]) -> None:
    wanted = {f.baseline.pk: f for f in forks}
    sandbox.forks.exclude(baseline_id__in=wanted).delete()
    existing = {f.baseline_id: f for f in sandbox.forks.all()}
    for baseline_id, spec in wanted.items():
        fork = existing.get(baseline_id) or Fork(sandbox=sandbox, baseline=spec.baseline)
        fork.image, fork.env, fork.replicas = spec.image, spec.env, spec.replicas
        fork.save()


def _record_revision(sandbox: Sandbox, actor: User) -> None:
    # The four-eyes rule needs every author of the spec, not only the last requester.
    SpecRevision.objects.create(sandbox=sandbox, generation=sandbox.generation, author=actor)


def _request_approval(sandbox: Sandbox, actor: User, note: str) -> Approval:
    # A changed spec needs a fresh decision: earlier approvals covered another generation.
    sandbox.approvals.filter(state__in=[ApprovalState.PENDING, ApprovalState.APPROVED]).exclude(
        generation=sandbox.generation
    ).update(state=ApprovalState.SUPERSEDED)
    pending = sandbox.approvals.filter(state=ApprovalState.PENDING).first()
    if pending:
        return pending
    return Approval.objects.create(
        sandbox=sandbox, generation=sandbox.generation, requested_by=actor, request_note=note
    )


# --- Sandboxes ------------------------------------------------------------------------------
@transaction.atomic
def sandbox_create(
    *,
    actor: User,
    tenant: Tenant,
    name: Any,
    forks: Any,
    profile: Any = Profile.DEV,
    ttl_seconds: Any = None,
    description: Any = "",
    labels: Any = None,
    approval_note: str = "",
    via_token: ApiToken | None = None,
) -> Sandbox:
    # Validation reads the team unlocked; the lock is taken only for the checks that
    # must not interleave with another create (see below), to keep it short.
    team = Team.objects.get(pk=tenant.team_id)
    _require_member(team, actor)
    _check_token_scope(via_token, tenant)
    labels = {} if labels is None else labels
    if ttl_seconds is None:
        ttl_seconds = int(team.default_ttl.total_seconds())

    errors = FieldErrors()
    for message in dns1123_label_errors(name, max_length=SANDBOX_NAME_MAX):
        errors.add("name", message)
    name_taken = not errors and Sandbox.objects.present().filter(tenant=tenant, name=name).exists()
    taken = f"Tenant {tenant.name} already has a sandbox named {name}."
    check_common(team=team, profile=profile, description=description, labels=labels, errors=errors)
    for message in ttl_errors(ttl_seconds, team.max_ttl):
        errors.add("ttl", message)
    fork_specs = check_forks(team, forks, profile if isinstance(profile, str) else "", errors)
    for message in text_errors(approval_note, max_length=REASON_MAX):
        errors.add("approval_note", message)
    if name_taken and not errors:
        raise NameTaken({"name": [taken]})
    if name_taken:
        errors.add("name", taken)
    errors.raise_if_any()

    # Lock the team row: two creates' quota checks and inserts must not interleave, and
    # a same-name create that waited here sees the winner's row when it gets the lock.
    team = _lock(Team.objects, team.pk)
    if Sandbox.objects.present().filter(tenant=tenant, name=name).exists():
        raise NameTaken({"name": [taken]})
    active = Sandbox.objects.active().filter(tenant__team=team).count()
    if active >= team.max_sandboxes:
        raise QuotaExceeded(
            f"Team {team.slug} has reached its quota of {team.max_sandboxes} active sandboxes; "
            "delete one or ask a lead to raise the quota."
        )

    now = timezone.now()
    try:
        with transaction.atomic():
            sandbox = Sandbox.objects.create(
                tenant=tenant,
                name=name,
                routing_key=generate_routing_key(),
                profile=profile,
                description=description,
                labels=labels,
                ttl=timedelta(seconds=ttl_seconds),
                created_by=actor,
                created_at=now,
                updated_at=now,
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
    except IntegrityError as exc:
        # Only reachable if the name was taken outside this team lock (an admin edit).
        raise NameTaken({"name": [taken]}) from exc
    _write_forks(sandbox, fork_specs)
    _record_revision(sandbox, actor)
    if sandbox.needs_approval:
        _request_approval(sandbox, actor, approval_note)
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="sandbox.create",
        target=str(sandbox),
        data={"spec": sandbox.spec, "generation": sandbox.generation},
    )
    _enqueue_reconcile(sandbox.pk)
    return sandbox


@transaction.atomic
def sandbox_update(
    *,
    actor: User,
    sandbox: Sandbox,
    forks: Any = None,
    profile: Any = None,
    description: Any = None,
    labels: Any = None,
    approval_note: Any = "",
    via_token: ApiToken | None = None,
) -> Sandbox:
    """Change the spec. Bumps `generation` only when something really changed, so that
    a pipeline re-applying the same document is a no-op. A prod-like change asks for a
    new approval (`approval_note` is for the lead)."""
    sandbox = _lock_sandbox(sandbox)
    team = sandbox.tenant.team
    _require_member(team, actor)
    _check_token_scope(via_token, sandbox.tenant)
    if sandbox.is_deleting:
        raise Conflict(f"Sandbox {sandbox.name} is being deleted and cannot be changed.")
    before = sandbox.spec
    profile = sandbox.profile if profile is None else profile
    description = sandbox.description if description is None else description
    labels = sandbox.labels if labels is None else labels
    forks = before["forks"] if forks is None else forks

    errors = FieldErrors()
    check_common(team=team, profile=profile, description=description, labels=labels, errors=errors)
    fork_specs = check_forks(
        team,
        forks,
        profile if isinstance(profile, str) else "",
        errors,
        already_forked=frozenset(f["service"] for f in before["forks"]),
    )
    errors.raise_if_any()

    after = {
        **before,
        "profile": profile,
        "description": description,
        "labels": labels,
        "forks": sorted((f.as_dict() for f in fork_specs), key=lambda f: f["service"]),
    }
    if after == before:
        return sandbox
    sandbox.profile, sandbox.description, sandbox.labels = profile, description, labels
    sandbox.generation += 1
    sandbox.updated_at = timezone.now()
    sandbox.save(update_fields=["profile", "description", "labels", "generation", "updated_at"])
    _write_forks(sandbox, fork_specs)
    _record_revision(sandbox, actor)
    if sandbox.needs_approval:
        note = approval_note.strip()[:REASON_MAX] if isinstance(approval_note, str) else ""
        _request_approval(sandbox, actor, note)
    else:
        sandbox.approvals.filter(state=ApprovalState.PENDING).update(state=ApprovalState.SUPERSEDED)
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="sandbox.update",
        target=str(sandbox),
        data={"before": before, "after": after, "generation": sandbox.generation},
    )
    _enqueue_reconcile(sandbox.pk)
    return sandbox


@transaction.atomic
def sandbox_delete(
    *, actor: User | None, sandbox: Sandbox, reason: str = "", via_token: ApiToken | None = None
) -> Sandbox:
    """Mark for deletion; the reconciler takes routes, workloads and data down and then
    sets `deleted_at`. The record stays for the audit trail. Idempotent."""
    sandbox = _lock_sandbox(sandbox)
    team = sandbox.tenant.team
    if actor is not None:
        _require_member(team, actor)
        _check_token_scope(via_token, sandbox.tenant)
    problems = text_errors(reason, max_length=REASON_MAX)
    if problems:
        raise ValidationFailed({"reason": problems})
    if sandbox.is_deleting:
        return sandbox
    sandbox.deletion_requested_at = timezone.now()
    sandbox.save(update_fields=["deletion_requested_at"])
    sandbox.approvals.filter(state=ApprovalState.PENDING).update(state=ApprovalState.SUPERSEDED)
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="sandbox.expire" if actor is None else "sandbox.delete",
        target=str(sandbox),
        data={"reason": reason} if reason else {},
    )
    _enqueue_reconcile(sandbox.pk)
    return sandbox


@transaction.atomic
def sandbox_extend(
    *, actor: User, sandbox: Sandbox, ttl_seconds: Any, via_token: ApiToken | None = None
) -> Sandbox:
    """Set the sandbox to expire `ttl_seconds` from now (bounded by the team's maximum)."""
    sandbox = _lock_sandbox(sandbox)
    team = sandbox.tenant.team
    _require_member(team, actor)
    _check_token_scope(via_token, sandbox.tenant)
    if sandbox.is_deleting:
        raise Conflict(f"Sandbox {sandbox.name} is being deleted and cannot be extended.")
    problems = ttl_errors(ttl_seconds, team.max_ttl)
    if problems:
        raise ValidationFailed({"ttl": problems})
    before = sandbox.expires_at
    sandbox.expires_at = timezone.now() + timedelta(seconds=ttl_seconds)
    sandbox.ttl = timedelta(seconds=ttl_seconds)
    sandbox.save(update_fields=["expires_at", "ttl"])
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="sandbox.extend",
        target=str(sandbox),
        data={"from": before.isoformat(), "to": sandbox.expires_at.isoformat()},
    )
    _enqueue_reconcile(sandbox.pk)
    return sandbox


def sandbox_expire_due(*, now: Any = None) -> list[int]:
    """Mark every sandbox whose TTL has passed for deletion (Celery beat calls this)."""
    now = now or timezone.now()
    due = list(Sandbox.objects.active().filter(expires_at__lte=now).values_list("pk", flat=True))
    for sandbox_id in due:
        sandbox_delete(actor=None, sandbox=Sandbox(pk=sandbox_id), reason="TTL expired")
    return due


# --- Approvals ------------------------------------------------------------------------------
@transaction.atomic
def approval_request(
    *, actor: User, sandbox: Sandbox, note: str = "", via_token: ApiToken | None = None
) -> Approval:
    sandbox = _lock_sandbox(sandbox)
    team = sandbox.tenant.team
    _require_member(team, actor)
    _check_token_scope(via_token, sandbox.tenant)
    if not sandbox.needs_approval:
        raise ValidationFailed({"profile": ["Only prod-like sandboxes need an approval."]})
    if sandbox.is_deleting:
        raise Conflict(f"Sandbox {sandbox.name} is being deleted.")
    problems = text_errors(note, max_length=REASON_MAX)
    if problems:
        raise ValidationFailed({"note": problems})
    approval = _request_approval(sandbox, actor, note)
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="approval.request",
        target=str(sandbox),
        data={"generation": approval.generation, "note": note},
    )
    _enqueue_reconcile(sandbox.pk)
    return approval


def four_eyes_objection(approval: Approval, actor: User) -> str | None:
    """Why `actor` may not decide `approval`, or None. Nobody who created the sandbox or
    wrote any generation of its spec up to the one being approved may decide it: the
    person who asked is not the only one with an interest in the answer (a lead creates
    a prod-like sandbox, a member edits its description, the lead must not approve)."""
    if approval.requested_by_id == actor.pk:
        return "A lead cannot decide their own request; ask another lead."
    if approval.sandbox.created_by_id == actor.pk:
        return "You created this sandbox, so another lead must decide it (four-eyes rule)."
    authored = (
        SpecRevision.objects.filter(
            sandbox_id=approval.sandbox_id, generation__lte=approval.generation, author=actor
        )
        .order_by("-generation")
        .values_list("generation", flat=True)
        .first()
    )
    if authored is not None:
        return (
            f"You changed this sandbox's spec (generation {authored}), so another lead "
            "must decide it (four-eyes rule)."
        )
    return None


@transaction.atomic
def approval_decide(
    *,
    actor: User,
    approval: Approval,
    approve: bool,
    reason: Any,
    valid_for: timedelta = DEFAULT_APPROVAL_VALIDITY,
    via_token: ApiToken | None = None,
) -> Approval:
    """A lead of the sandbox's team approves or rejects; never anyone who wrote the spec
    being decided (see `four_eyes_objection`)."""
    # Lock order as in sandbox_update: the sandbox row, then its approval. Holding the
    # sandbox lock means no spec change (and no new author) can slip in between the
    # four-eyes check and the decision.
    sandbox_id = Approval.objects.values_list("sandbox_id", flat=True).get(pk=approval.pk)
    sandbox = _lock_sandbox(Sandbox(pk=sandbox_id))
    approval = _lock(Approval.objects, approval.pk)
    approval.sandbox = sandbox
    team = sandbox.tenant.team
    if _require_member(team, actor) != Role.LEAD:
        raise NotAllowed("Only a lead of the team can approve or reject.")
    objection = four_eyes_objection(approval, actor)
    if objection:
        raise NotAllowed(objection, code="four_eyes")
    if via_token is not None:
        # The four-eyes rule is about people: an API token can be used by whoever can
        # read a pipeline's secrets, so a decision needs the lead's own session.
        raise NotAllowed(
            "Approvals are a person's decision: sign in (the dashboard or a session) "
            "to approve or reject; API tokens cannot."
        )
    if approval.state != ApprovalState.PENDING:
        raise Conflict(f"This request was already {approval.state}.")
    if approval.generation != sandbox.generation:
        raise Conflict("The sandbox changed since this request; decide the new request.")
    now = timezone.now()
    if approve and sandbox.is_deleting:
        raise Conflict(f"Sandbox {sandbox.name} is being deleted; there is nothing to approve.")
    if approve and sandbox.expires_at <= now:
        raise Conflict(
            f"Sandbox {sandbox.name} expired at {sandbox.expires_at:%Y-%m-%d %H:%M:%S} UTC; "
            "extend it before approving."
        )
    errors = FieldErrors()
    if not isinstance(reason, str) or not reason.strip():
        errors.add("reason", "Give a reason for the decision.")
    else:
        for message in text_errors(reason, max_length=REASON_MAX):
            errors.add("reason", message)
    if approve and not (timedelta(0) < valid_for <= MAX_APPROVAL_VALIDITY):
        errors.add("valid_for", f"Must be between 1 second and {MAX_APPROVAL_VALIDITY.days} days.")
    errors.raise_if_any()
    approval.state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
    approval.decided_by = actor
    approval.decided_at = now
    approval.reason = reason.strip()
    approval.expires_at = now + valid_for if approve else None
    approval.save()
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        sandbox=sandbox,
        verb="approval.approve" if approve else "approval.reject",
        target=str(sandbox),
        data={
            "generation": approval.generation,
            "reason": approval.reason,
            "expires_at": approval.expires_at.isoformat() if approval.expires_at else None,
        },
    )
    _enqueue_reconcile(sandbox.pk)
    return approval


def approvals_expire_due(*, now: Any = None) -> list[int]:
    """Queue a reconcile for sandboxes whose approval just lapsed, so their routes come
    down. Returns the sandbox ids; the reconcile itself re-checks validity."""
    now = now or timezone.now()
    window_start = now - timedelta(minutes=10)
    ids = sorted(
        set(
            Approval.objects.filter(
                state=ApprovalState.APPROVED,
                expires_at__lte=now,
                expires_at__gt=window_start,
                sandbox__deletion_requested_at__isnull=True,
            ).values_list("sandbox_id", flat=True)
        )
    )
    from sandboxes.queueing import queue_reconcile

    for sandbox_id in ids:
        queue_reconcile(sandbox_id)
    return ids


# --- Tenants and tokens -----------------------------------------------------------------------
@transaction.atomic
def tenant_create(
    *,
    actor: User,
    team: Team,
    name: Any,
    kind: Any = TenantKind.DEVELOPER,
    owner: User | None = None,
    via_token: ApiToken | None = None,
) -> Tenant:
    role = _require_member(team, actor)
    if via_token is not None and via_token.tenant_id is not None:
        raise NotAllowed("A tenant-scoped API token cannot create tenants.")
    errors = FieldErrors()
    for message in dns1123_label_errors(name, max_length=SANDBOX_NAME_MAX):
        errors.add("name", message)
    if kind not in TenantKind.values:
        errors.add("kind", f"Must be one of: {', '.join(TenantKind.values)}.")
    elif kind != TenantKind.DEVELOPER and role != Role.LEAD:
        errors.add("kind", "Only a lead can create tenants for CI pipelines and bots.")
    errors.raise_if_any()
    taken = NameTaken({"name": [f"Team {team.slug} already has a tenant named {name}."]})
    if Tenant.objects.filter(team=team, name=name).exists():
        raise taken
    try:
        # No lock: the unique constraint decides a race, and the loser gets the same 409.
        with transaction.atomic():
            tenant = Tenant.objects.create(
                team=team,
                name=name,
                kind=kind,
                owner=owner
                if owner is not None
                else (actor if kind == TenantKind.DEVELOPER else None),
                tenant_key=generate_routing_key(),
            )
    except IntegrityError as exc:
        raise taken from exc
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        verb="tenant.create",
        target=str(tenant),
        data={"kind": kind},
    )
    return tenant


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown to the person exactly once, never stored


@transaction.atomic
def token_issue(
    *,
    actor: User,
    team: Team,
    name: Any,
    tenant: Tenant | None = None,
    ttl: timedelta | None = None,
    via_token: ApiToken | None = None,
) -> IssuedToken:
    _require_member(team, actor)
    # A token may hand out no more than it holds.
    if (
        via_token is not None
        and via_token.tenant_id is not None
        and (tenant is None or tenant.pk != via_token.tenant_id)
    ):
        raise NotAllowed("A tenant-scoped API token may only issue tokens for its tenant.")
    errors = FieldErrors()
    name_problems = text_errors(name, max_length=100, required=True)
    for message in name_problems:
        errors.add("name", message)
    if tenant is not None and tenant.team_id != team.pk:
        errors.add("tenant", "The tenant must belong to the token's team.")
    if ttl is not None and not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        errors.add("ttl", f"Must be between 1 second and {MAX_TOKEN_TTL.days // 365} years.")
    expires_at = timezone.now() + ttl if ttl is not None and not errors else None
    # A token may not outlive the token that issued it.
    parent_expiry = via_token.expires_at if via_token is not None else None
    if parent_expiry is not None and (expires_at is None or expires_at > parent_expiry):
        expires_at = parent_expiry
    errors.raise_if_any()
    taken = NameTaken({"name": [f"Team {team.slug} already has a token named {name}."]})
    if ApiToken.objects.filter(team=team, name=name).exists():
        raise taken
    lookup_id = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{lookup_id}_{secrets.token_urlsafe(24)}"
    try:
        # No lock: the unique constraint decides a race, and the loser gets the same 409.
        with transaction.atomic():
            token = ApiToken.objects.create(
                team=team,
                tenant=tenant,
                user=actor,
                name=name,
                lookup_id=lookup_id,
                secret_hash=ApiToken.hash_secret(secret),
                expires_at=expires_at,
            )
    except IntegrityError as exc:
        raise taken from exc
    _audit(
        team=team,
        actor=actor,
        token=via_token,
        verb="token.issue",
        target=str(token),
        data={"tenant": tenant.name if tenant else None},
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken, via_token: ApiToken | None = None) -> ApiToken:
    token = _lock(ApiToken.objects.select_related("team"), token.pk)
    role = _require_member(token.team, actor)
    if token.user_id != actor.pk and role != Role.LEAD:
        raise NotAllowed("Only the token's owner or a lead of the team can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(
            team=token.team, actor=actor, token=via_token, verb="token.revoke", target=str(token)
        )
    return token


# --- Idempotency keys ----------------------------------------------------------------------
IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotency_keys_purge(*, now: Any = None) -> int:
    """Forget `Idempotency-Key`s older than their 24 hours (Celery beat calls this)."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted


# --- Operator writes (the Django admin) ----------------------------------------------------
def _teams_affected_by(obj: Any) -> list[Team]:
    if isinstance(obj, Team):
        return [obj] if obj.pk else []
    if isinstance(obj, DataIsolationPolicy):
        return list(Team.objects.filter(policy=obj)) if obj.pk else []
    if isinstance(obj, BaselineService):
        # The catalog is shared: every team sees the change in its activity.
        return list(Team.objects.all())
    raise TypeError(f"{type(obj).__name__} is not written through operator_save")


def _sandboxes_affected_by(obj: Any) -> list[int]:
    present = Sandbox.objects.present()
    if isinstance(obj, Team):
        rows = present.filter(tenant__team=obj)
    elif isinstance(obj, DataIsolationPolicy):
        rows = present.filter(tenant__team__policy=obj)
    else:
        rows = present.filter(forks__baseline=obj)
    return list(rows.values_list("pk", flat=True).distinct())


@transaction.atomic
def operator_save(
    *,
    actor: User,
    obj: Team | DataIsolationPolicy | BaselineService,
    changed: list[str],
    save_related: Any = None,
) -> None:
    """An operator's change to a team (with its memberships), a data-isolation policy
    (with its rules) or a catalog entry (with its data resources), from the Django admin.

    It writes, records an audit event for every team it touches and reconciles every
    sandbox the change may affect (a quota, a policy or a catalog entry changes what
    the reconciler renders). `save_related` saves the admin's inline rows in the same
    transaction."""
    created = obj.pk is None
    before = set(_sandboxes_affected_by(obj)) if not created else set()
    obj.full_clean()
    obj.save()
    if save_related is not None:
        save_related()
    kind = {Team: "team", DataIsolationPolicy: "policy", BaselineService: "catalog"}[type(obj)]
    verb = f"{kind}.{'create' if created else 'change'}"
    for team in _teams_affected_by(obj):
        _audit(team=team, actor=actor, verb=verb, target=str(obj), data={"fields": changed})
    for sandbox_id in sorted(before | set(_sandboxes_affected_by(obj))):
        _enqueue_reconcile(sandbox_id)


def operator_delete_objection(obj: Team | DataIsolationPolicy | BaselineService) -> str | None:
    """Why `obj` cannot be deleted yet, or None. A catalog entry with forks, a policy in
    use or a team with sandboxes must wait: their sandboxes go first, through the
    sandbox services, so that their cluster objects are cleaned up."""
    if isinstance(obj, BaselineService) and obj.forks.exists():
        return f"Sandboxes still fork {obj}: delete them first."
    if isinstance(obj, Team) and Sandbox.objects.present().filter(tenant__team=obj).exists():
        return f"Team {obj.slug} still has sandboxes: delete them first."
    if isinstance(obj, DataIsolationPolicy) and obj.teams.exists():
        return f"Policy {obj} is in use by a team."
    return None


@transaction.atomic
def operator_delete(*, actor: User, obj: Team | DataIsolationPolicy | BaselineService) -> None:
    objection = operator_delete_objection(obj)
    if objection:
        raise Conflict(objection)
    kind = {Team: "team", DataIsolationPolicy: "policy", BaselineService: "catalog"}[type(obj)]
    teams = [] if isinstance(obj, Team) else _teams_affected_by(obj)
    target = str(obj)
    obj.delete()
    for team in teams:
        _audit(team=team, actor=actor, verb=f"{kind}.delete", target=target)
