"""Refreshing many installations at once: one path for the admin action, the
``helpdesk_oauth_refresh`` command and the beat sweep's selection.

Each installation is refreshed by :func:`.refresh.refresh_installation` (single
flight); this module only selects, walks in keyset batches (memory stays flat) and
counts outcomes the same way for every caller.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from ..exceptions import ConfigurationError, HelpdeskOAuthError
from ..models import Installation, ProviderApp, Token
from .creds import CredentialHealth, credential_health
from .refresh import RefreshFailed, RefreshRetryLater, refresh_installation

#: Rows read per query.
BATCH = 500

#: Outcome names of :class:`RefreshResult` (``"would refresh"`` only in a dry run).
OUTCOMES = ("refreshed", "fresh", "skipped", "failed", "would refresh")

_FIELDS = ("pk", "app__slug", "tenant", "status", "token__refresh_count", "token__expires_at")


@dataclass(frozen=True)
class RefreshResult:
    """What :func:`refresh_many` did with one installation.

    ``outcome`` is one of :data:`OUTCOMES`. ``reason``: why it was skipped (``"no
    token"``, ``"never expires"``, the installation's status) or failed (the provider's
    RFC 6749 ``error`` code, ``"http_<status>"``, ``"transient"``, or the exception's
    class name); ``message``: the failure's text (never a token). ``expires_at``: the
    token's expiry as read (``None``: no token or never expires).
    """

    installation_id: int
    app_slug: str
    tenant: str
    outcome: str
    reason: str = ""
    message: str = ""
    expires_at: datetime | None = None

    @property
    def label(self) -> str:
        """``installation <id> (<app slug> @ <tenant>)``."""
        return f"installation {self.installation_id} ({self.app_slug} @ {self.tenant})"


#: Outcomes for which a token call may have been made (the app's credentials were used).
_TOUCHING = ("refreshed", "fresh", "failed")


@dataclass
class RefreshSummary:
    """Counts of :func:`refresh_many`: ``counts`` by outcome, ``failures`` by reason;
    ``app_problems``: the :class:`.creds.CredentialHealth` of each app whose refresh was
    attempted and which has a recorded credential problem afterwards (a rejected current
    secret, even when the previous one stood in), by slug."""

    counts: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    app_problems: dict[str, CredentialHealth] = field(default_factory=dict)
    #: Slugs of the apps whose installations were refreshed, or tried.
    touched_apps: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        """How many refreshes failed."""
        return self.counts["failed"]

    @property
    def ok(self) -> bool:
        """No refresh failed and no app touched has a credential problem."""
        return not self.failed and not self.app_problems

    def add(self, result: RefreshResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome == "failed":
            self.failures[result.reason] += 1
        if result.outcome in _TOUCHING:
            self.touched_apps.add(result.app_slug)


def app_problems(slugs: Iterable[str] | None = None) -> dict[str, CredentialHealth]:
    """The :class:`.creds.CredentialHealth` of the apps (among ``slugs``; ``None``: every
    app) that have a recorded problem (``ProviderApp.last_error``), by slug; one query."""
    apps = (
        ProviderApp.objects.all()
        if slugs is None
        else ProviderApp.objects.filter(slug__in=list(slugs))
    )
    rows = (
        apps.exclude(last_error="")
        .only("slug", "last_error", "last_error_at", "secret_rotated_at")
        .order_by("slug")
    )
    now = timezone.now()
    return {app.slug: credential_health(app, now) for app in rows}


def due_installation_ids(
    batch: int | None = None,
    *,
    app_id: int | None = None,
    installations: QuerySet[Installation] | None = None,
) -> Iterator[int]:
    """Yield ids of active installations whose token is due, in keyset-paginated batches.

    "Due" is :meth:`.models.TokenQuerySet.due` (a token that never expires never is).
    One indexed query per batch over ``(expires_at, id)``: memory stays flat however
    many installations there are. ``app_id`` narrows it to one provider app,
    ``installations`` to a selection (a subquery).
    """
    batch = batch or BATCH
    now = timezone.now()
    last = None
    while True:
        rows: QuerySet[Token] = Token.objects.due(now).of_active_installations()
        if app_id is not None:
            rows = rows.filter(installation__app_id=app_id)
        if installations is not None:
            rows = rows.filter(installation__in=installations.values("pk"))
        if last is not None:
            rows = _after(rows, *last)
        page = list(
            rows.order_by("expires_at", "id").values_list("expires_at", "id", "installation_id")[
                :batch
            ]
        )
        for _expires_at, _pk, installation_id in page:
            yield installation_id
        if len(page) < batch:
            return
        last = page[-1][:2]


def _after(rows: QuerySet[Token], expires_at: datetime | None, pk: int) -> QuerySet[Token]:
    """Rows strictly after ``(expires_at, pk)`` in keyset order.

    A row-value comparison, which the ``(expires_at, id)`` index serves directly;
    ``expires_at >= x AND NOT (expires_at = x AND id <= pk)`` re-reads every tie
    of ``x`` on each page (quadratic when many tokens share an expiry). ``expires_at``
    is never ``None`` here: a due token has one.
    """
    connection = connections[rows.db]
    quote = connection.ops.quote_name
    table = quote(Token._meta.db_table)
    return rows.extra(  # noqa: S610  (quoted identifiers; values are parameters)
        where=[f"({table}.{quote('expires_at')}, {table}.{quote('id')}) > (%s, %s)"],
        params=[connection.ops.adapt_datetimefield_value(expires_at), pk],
    )


def _rows(
    installations: QuerySet[Installation], due_only: bool, size: int
) -> Iterator[dict[str, Any]]:
    """The selected installations' rows (``_FIELDS``), ``size`` per query, by pk."""
    if due_only:
        ids = due_installation_ids(size, installations=installations)
        while chunk := list(itertools.islice(ids, size)):
            yield from installations.filter(pk__in=chunk).order_by("pk").values(*_FIELDS)
        return
    last = 0
    while True:
        page = list(installations.filter(pk__gt=last).order_by("pk").values(*_FIELDS)[:size])
        yield from page
        if len(page) < size:
            return
        last = page[-1]["pk"]


def refresh_many(
    installations: QuerySet[Installation],
    *,
    due_only: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH,
    on_result: Callable[[RefreshResult], None] | None = None,
) -> RefreshSummary:
    """Refresh the tokens of ``installations`` now; a :class:`RefreshSummary`.

    Without ``due_only`` each selected active installation is refreshed once even if
    its token is not due (forced with its current version: skipped as ``fresh`` if
    another worker refreshes it meanwhile); with it, only tokens the beat sweep would
    refresh (:meth:`.models.TokenQuerySet.due`). Skipped: no token, not active, or a
    token that never expires (never refreshed, even forced). ``dry_run`` sends and
    changes nothing (outcome ``"would refresh"``). ``on_result`` is called with each
    :class:`RefreshResult` as it happens (progress, per-row output). Never raises for one
    installation's failure: every :class:`.refresh.RefreshFailed`,
    :class:`.refresh.RefreshRetryLater`, :class:`~.exceptions.DecryptionError` or
    :class:`~.exceptions.ConfigurationError` is counted as ``"failed"``. Afterwards the
    summary's ``app_problems`` lists the apps refreshed (or tried) whose credentials have
    a recorded problem: :attr:`RefreshSummary.ok` is false when any refresh failed or
    such an app exists.
    """
    summary = RefreshSummary()
    for row in _rows(installations, due_only, batch_size):
        result = _refresh_row(row, due_only=due_only, dry_run=dry_run)
        summary.add(result)
        if on_result is not None:
            on_result(result)
    if not dry_run and summary.touched_apps:
        summary.app_problems = app_problems(summary.touched_apps)
    return summary


def _refresh_row(row: dict[str, Any], *, due_only: bool, dry_run: bool) -> RefreshResult:
    version = row["token__refresh_count"]
    expires_at = row["token__expires_at"]

    def result(outcome: str, reason: str = "", message: str = "") -> RefreshResult:
        return RefreshResult(
            row["pk"], row["app__slug"], row["tenant"], outcome, reason, message, expires_at
        )

    if version is None:
        return result("skipped", "no token")
    if row["status"] != Installation.Status.ACTIVE:
        return result("skipped", row["status"])
    if expires_at is None:
        # A token that never expires is never refreshed, even forced (DESIGN.md).
        return result("skipped", "never expires")
    if dry_run:
        return result("would refresh")
    try:
        outcome = refresh_installation(row["pk"], if_version=None if due_only else version)
    except RefreshFailed as exc:
        error = exc.error
        reason = error.error or (f"http_{error.status}" if error.status else "error")
        return result("failed", reason, str(exc))
    except RefreshRetryLater as exc:
        return result("failed", "transient", str(exc))
    except (HelpdeskOAuthError, ConfigurationError) as exc:
        # DecryptionError (a wrong key: the reason is on the installation) and the like.
        return result("failed", type(exc).__name__, str(exc))
    return result(str(outcome))
