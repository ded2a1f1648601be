"""What the benchmarks and the integration tests share: seeding, workers, fault scenarios.

Every scenario here drives the package through its public API only
(``refresh_installation``, the Celery tasks, the models). Faults come from the
sandbox providers (:meth:`SandboxState.inject`, ``token_delay``) or from real
process kills; nothing in ``django_helpdesk_oauth`` is patched.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

KUSTOMER_CLIENT_ID = "kustomer-test-client"
KUSTOMER_CLIENT_SECRET = "kustomer-test-secret-0001"  # the sandbox's test client (tests.settings)
KUSTOMER_SCOPE = "org.permission.customer org.permission.conversation offline_access"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# A Zendesk client registered with the sandbox at seeding time (tests.settings has none).
ZENDESK_CLIENT_ID = "zendesk-bench-client"
ZENDESK_CLIENT_SECRET = "zendesk-bench-secret-0001"
ZENDESK_SCOPE = "read"
#: Seconds: Zendesk's access-token lifetime (what ZendeskProvider asks for).
ZENDESK_LIFETIME = 1800


# -- environment probes -----------------------------------------------------------


def redis_reachable(url: str = REDIS_URL, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- seeding ------------------------------------------------------------------------


def kustomer_app():
    """The Kustomer ``ProviderApp`` with the sandbox's test client credentials."""
    from django_helpdesk_oauth.models import ProviderApp

    app, _ = ProviderApp.objects.get_or_create(
        slug="kustomer",
        defaults={
            "provider": "kustomer",
            "name": "Bench Kustomer App",
            "client_id": KUSTOMER_CLIENT_ID,
            "client_secret": KUSTOMER_CLIENT_SECRET,
        },
    )
    return app


def seed_kustomer(count: int, *, due: bool = True, prefix: str = "org") -> list[int]:
    """Create ``count`` active Kustomer installations whose tokens the sandbox knows.

    Each gets a live refresh token and access token registered in the sandbox
    state (as if installed through the flow); ``due`` sets ``expires_at`` to now.
    Returns the installation ids.
    """
    from django.utils import timezone

    from django_helpdesk_oauth.models import Installation, Token
    from django_helpdesk_oauth.sandbox.state import KUSTOMER, IssuedToken, new_secret, state

    app = kustomer_app()
    now = timezone.now()
    epoch = time.time()
    installations = Installation.objects.bulk_create(
        [Installation(app=app, tenant=f"{prefix}{i}") for i in range(count)], batch_size=1000
    )
    tokens = []
    for installation in installations:
        family = new_secret(8)
        access = IssuedToken(
            new_secret(),
            "access",
            KUSTOMER,
            KUSTOMER_CLIENT_ID,
            installation.tenant,
            KUSTOMER_SCOPE,
            epoch,
            epoch + 86400,
            family,
        )
        refresh = IssuedToken(
            new_secret(),
            "refresh",
            KUSTOMER,
            KUSTOMER_CLIENT_ID,
            installation.tenant,
            KUSTOMER_SCOPE,
            epoch,
            None,
            family,
        )
        state.add_token(access)
        state.add_token(refresh)
        tokens.append(
            Token(
                installation=installation,
                access_token=access.token,
                refresh_token=refresh.token,
                token_type="bearer",
                scope=KUSTOMER_SCOPE,
                expires_at=now if due else now + timedelta(days=1),
                issued_at=now,
            )
        )
    Token.objects.bulk_create(tokens, batch_size=1000)
    return [i.pk for i in installations]


def zendesk_app():
    """The Zendesk ``ProviderApp``, its client registered with the sandbox (again after
    every ``state.reset()``, which forgets clients registered at run time)."""
    from django_helpdesk_oauth.models import ProviderApp
    from django_helpdesk_oauth.sandbox.state import state

    if state.get_client("zendesk", ZENDESK_CLIENT_ID) is None:
        state.register_client("zendesk", ZENDESK_CLIENT_ID, ZENDESK_CLIENT_SECRET, "Bench Zendesk")
    app, _ = ProviderApp.objects.get_or_create(
        slug="zendesk",
        defaults={
            "provider": "zendesk",
            "name": "Bench Zendesk App",
            "client_id": ZENDESK_CLIENT_ID,
            "client_secret": ZENDESK_CLIENT_SECRET,
            "scopes": ZENDESK_SCOPE,
        },
    )
    return app


def seed_zendesk(count: int, *, prefix: str = "sub") -> list[int]:
    """Create ``count`` active Zendesk installations whose tokens the sandbox knows (as if
    installed through the flow), all due: ``expires_at`` is now, the granted ``lifetime``
    ``ZENDESK_LIFETIME`` seconds. Every refresh of them rotates (the sandbox deletes the
    previous pair). Returns the installation ids."""
    from django.utils import timezone

    from django_helpdesk_oauth.models import Installation, Token
    from django_helpdesk_oauth.sandbox.state import IssuedToken, new_secret, state

    app = zendesk_app()
    now = timezone.now()
    epoch = time.time()
    installations = Installation.objects.bulk_create(
        [Installation(app=app, tenant=f"{prefix}{i}") for i in range(count)], batch_size=1000
    )
    tokens = []
    for installation in installations:
        family = new_secret(8)
        pair = [
            IssuedToken(
                new_secret(),
                kind,
                "zendesk",
                ZENDESK_CLIENT_ID,
                installation.tenant,
                ZENDESK_SCOPE,
                epoch,
                epoch + ZENDESK_LIFETIME if kind == "access" else None,
                family,
            )
            for kind in ("access", "refresh")
        ]
        for issued in pair:
            state.add_token(issued)
        tokens.append(
            Token(
                installation=installation,
                access_token=pair[0].token,
                refresh_token=pair[1].token,
                token_type="bearer",
                scope=ZENDESK_SCOPE,
                expires_at=now,
                lifetime=timedelta(seconds=ZENDESK_LIFETIME),
                issued_at=now,
            )
        )
    Token.objects.bulk_create(tokens, batch_size=1000)
    return [i.pk for i in installations]


def clear_installations() -> None:
    from django_helpdesk_oauth.models import Installation, Token

    Token.objects.all().delete()
    Installation.objects.all().delete()


def token_row(installation_id: int) -> tuple[str, str, int, str]:
    """``(access, refresh, refresh_count, lease_owner)`` as stored right now."""
    from django_helpdesk_oauth.models import Token

    token = Token.objects.get(installation_id=installation_id)
    return token.access_token, token.refresh_token, token.refresh_count, token.lease_owner


def refresh_responses(state: Any, status: int | None = None) -> list[dict[str, Any]]:
    rows = state.matching_requests(endpoint="token", grant_type="refresh_token")
    return [r for r in rows if status is None or r.get("status") == status]


def invalid_grants(state: Any) -> int:
    """Refresh requests the sandbox refused with 400 (spent, unknown or revoked token)."""
    return len(refresh_responses(state, 400))


# -- Celery workers ---------------------------------------------------------------


@dataclass
class Worker:
    """A ``celery worker`` subprocess of :mod:`bench.celery_app`."""

    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False)
    #: ``time.time()`` when the worker announced it consumes (its ready file's mtime).
    ready_at: float = 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the worker process (and its pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    env.update(overrides)
    return env


def start_worker(
    env: dict[str, str],
    *,
    concurrency: int = 8,
    pool: str = "threads",
    loglevel: str = "info",
    timeout: float = 60,
) -> Worker:
    """Start ``celery -A bench.celery_app worker`` and wait until it is ready."""
    log = Path(tempfile.mkstemp(prefix="helpdesk-oauth-worker-", suffix=".log")[1])
    ready = Path(tempfile.mkstemp(prefix="helpdesk-oauth-worker-", suffix=".ready")[1])
    ready.unlink()
    env = {**env, "BENCH_READY_FILE": str(ready)}
    queue = env.get("BENCH_QUEUE", "helpdesk-oauth-bench")
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.celery_app",
        "worker",
        "--pool",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        queue,
        "-l",
        loglevel,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"bench-{os.getpid()}-{time.monotonic_ns()}@%h",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log, env)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the Celery worker did not start:\n{worker.log()[-3000:]}")
        time.sleep(0.02)
    worker.ready_at = ready.stat().st_mtime
    ready.unlink()
    return worker


def celery_client(env: dict[str, str]):
    """A Celery app publishing to the worker's broker and queue (tasks sent by name)."""
    from celery import Celery

    app = Celery("bench-driver", set_as_current=False)
    app.conf.broker_url = env["BENCH_BROKER_URL"]
    app.conf.task_default_queue = env["BENCH_QUEUE"]
    if env["BENCH_BROKER_URL"].startswith("filesystem://"):
        folder = env["BENCH_FS_BROKER_DIR"]
        app.conf.broker_transport_options = {
            "data_folder_in": folder,
            "data_folder_out": folder,
            "control_folder": os.path.join(folder, "control"),
            "polling_interval": 0.05,
        }
    return app


REFRESH_TASK = "django_helpdesk_oauth.tasks.refresh_installation_token"
SWEEP_TASK = "django_helpdesk_oauth.tasks.refresh_expiring_tokens"


def purge_queue(env: dict[str, str]) -> None:
    app = celery_client(env)
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(env["BENCH_QUEUE"])


# -- race: one installation, many processes -------------------------------------------


def _race_child(installation_id: int, rounds: int, barrier: Any, results: Any) -> None:
    from django.db import connections

    from django_helpdesk_oauth.services import refresh_installation

    connections.close_all()  # never share the parent's socket
    outcomes: list[str] = []
    try:
        for _ in range(rounds):
            barrier.wait(timeout=60)
            try:
                outcomes.append(str(refresh_installation(installation_id)))
            except Exception as exc:  # reported to the parent
                outcomes.append(f"error: {type(exc).__name__}: {exc}")
            barrier.wait(timeout=60)
    finally:
        connections.close_all()
        results.put(outcomes)


def _naive_child(
    installation_id: int, rounds: int, barrier: Any, results: Any, token_url: str, api_url: str
) -> None:
    """The textbook requests-oauthlib client: auto-refresh, token_updater saves to the table."""
    from django.db import connections
    from oauthlib.oauth2 import OAuth2Error
    from requests_oauthlib import OAuth2Session

    from django_helpdesk_oauth.models import Token

    connections.close_all()
    outcomes: list[str] = []

    def save(token: dict[str, Any]) -> None:
        Token.objects.filter(installation_id=installation_id).update(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token", ""),
            expires_at=_aware(token["expires_at"]),
        )

    try:
        for _ in range(rounds):
            barrier.wait(timeout=60)
            stored = Token.objects.get(installation_id=installation_id)
            session = OAuth2Session(
                KUSTOMER_CLIENT_ID,
                token={
                    "access_token": stored.access_token,
                    "refresh_token": stored.refresh_token,
                    "token_type": "Bearer",
                    "expires_at": stored.expires_at.timestamp(),
                },
                auto_refresh_url=token_url,
                auto_refresh_kwargs={
                    "client_id": KUSTOMER_CLIENT_ID,
                    "client_secret": KUSTOMER_CLIENT_SECRET,
                },
                token_updater=save,
            )
            try:
                response = session.get(api_url, timeout=10)
                outcomes.append(f"api {response.status_code}")
            except OAuth2Error as exc:
                outcomes.append(f"error: {exc.error}")
            except Exception as exc:
                outcomes.append(f"error: {type(exc).__name__}")
            barrier.wait(timeout=60)
    finally:
        connections.close_all()
        results.put(outcomes)


def _aware(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def race(
    state: Any,
    installation_id: int,
    *,
    processes: int = 8,
    rounds: int = 25,
    naive: bool = False,
    sandbox_base: str = "",
    tenant: str = "",
) -> dict[str, Any]:
    """``processes`` processes each try ``rounds`` refreshes, all at once, round after round.

    Before each round the parent makes the token due (its expiry window opens);
    then every process calls ``refresh_installation`` at the same moment (a
    barrier). ``naive=True`` runs the same storm through a plain requests-oauthlib
    auto-refresh client that stores to the same table. Returns counts.
    """
    from django.db import connections
    from django.utils import timezone

    from django_helpdesk_oauth.models import Installation, Token

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    connections.close_all()
    if naive:
        from django_helpdesk_oauth.sandbox.endpoints import provider_settings

        urls = provider_settings(sandbox_base)["kustomer"]
        token_url = urls["token_url"]
        api_url = urls["api_base_url"].replace("{tenant}", tenant) + "users/current"
        target, extra = _naive_child, (token_url, api_url)
    else:
        target, extra = _race_child, ()
    children = [
        context.Process(target=target, args=(installation_id, rounds, barrier, results, *extra))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    per_window: list[int] = []
    started = time.monotonic()
    try:
        for _ in range(rounds):
            before = len(refresh_responses(state, 200))
            Token.objects.filter(installation_id=installation_id).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )
            connections.close_all()
            barrier.wait(timeout=60)  # go
            barrier.wait(timeout=120)  # all done
            per_window.append(len(refresh_responses(state, 200)) - before)
        outcomes = Counter(o for _ in children for o in results.get(timeout=60))
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    elapsed = time.monotonic() - started
    installation = Installation.objects.get(pk=installation_id)
    token = Token.objects.get(installation_id=installation_id)
    live = {t.token for t in state.live_refresh_tokens("kustomer", installation.tenant)}
    return {
        "client": "naive requests-oauthlib" if naive else "django-helpdesk-oauth",
        "processes": processes,
        "rounds": rounds,
        "attempts": processes * rounds,
        "outcomes": dict(outcomes),
        "provider_refreshes": len(refresh_responses(state, 200)),
        "invalid_grant": invalid_grants(state),
        "refreshes_per_window": dict(Counter(per_window)),
        "status": installation.status,
        "stored_refresh_token_live": token.refresh_token in live,
        "seconds": round(elapsed, 2),
    }


# -- flapping provider -------------------------------------------------------------

FAULT_MIX = (("ok", 0.5), ("500", 0.2), ("429", 0.15), ("timeout", 0.15))


def queue_flapping_faults(state: Any, count: int, *, timeout: float, rng: random.Random) -> Counter:
    """Queue ``count`` one-shot token-endpoint outcomes drawn from :data:`FAULT_MIX`.

    ``ok`` answers normally; ``timeout`` holds the request past the client's
    timeout, then answers 504 without processing it (the provider never spent
    the refresh token: see docs/reliability.md for the other case).
    """
    kinds, weights = zip(*FAULT_MIX, strict=True)
    drawn = Counter()
    for kind in rng.choices(kinds, weights, k=count):
        drawn[kind] += 1
        if kind == "ok":
            state.inject("token", status=None)
        elif kind == "500":
            state.inject("token", status=500)
        elif kind == "429":
            state.inject("token", status=429, headers={"Retry-After": "1"})
        else:
            state.inject("token", status=504, delay=timeout * 2)
    return drawn


def flapping(
    state: Any,
    installation_ids: list[int],
    *,
    attempts: int,
    timeout: float,
    threads: int = 8,
    seed: int = 1234,
) -> dict[str, Any]:
    """Refresh every installation through a provider that fails about half the time.

    ``attempts`` one-shot outcomes are queued on the token endpoint; workers keep
    calling ``refresh_installation`` (honouring ``Retry-After``) until every
    installation is fresh. After each failure the stored token must be exactly
    what it was before; after each success it must be new.
    """
    from django.db import connection

    from django_helpdesk_oauth.models import Installation, Token
    from django_helpdesk_oauth.services import Outcome, RefreshRetryLater, refresh_installation

    rng = random.Random(seed)
    drawn = queue_flapping_faults(state, attempts, timeout=timeout, rng=rng)
    lock = threading.Lock()
    stats: Counter[str] = Counter()
    violations: list[str] = []
    retry_afters: list[float | None] = []
    pending = list(installation_ids)

    def work() -> None:
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    installation_id = pending.pop(0)
                before = token_row(installation_id)
                try:
                    outcome = refresh_installation(installation_id)
                except RefreshRetryLater as exc:
                    after = token_row(installation_id)
                    with lock:
                        stats["retry_later"] += 1
                        if after[:3] != before[:3]:
                            violations.append(f"{installation_id}: token changed by a failure")
                        if exc.retry_after is not None:
                            retry_afters.append(exc.retry_after)
                    time.sleep(exc.retry_after or 0.0)
                    with lock:
                        pending.append(installation_id)
                    continue
                except Exception as exc:
                    with lock:
                        violations.append(f"{installation_id}: {type(exc).__name__}: {exc}")
                    continue
                after = token_row(installation_id)
                with lock:
                    stats[str(outcome)] += 1
                    if outcome is Outcome.REFRESHED and (
                        after[1] == before[1] or after[2] != before[2] + 1
                    ):
                        violations.append(f"{installation_id}: refreshed but not stored")
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    elapsed = time.monotonic() - started
    tenants = dict(Installation.objects.filter(pk__in=installation_ids).values_list("pk", "tenant"))
    live = {(t.tenant, t.token) for t in state.live_refresh_tokens("kustomer")}
    rows = Token.objects.filter(installation_id__in=installation_ids).select_related("installation")
    not_fresh = [
        r.installation_id
        for r in rows
        if r.refresh_count < 1
        or r.lease_owner
        or r.installation.status != "active"
        or (tenants[r.installation_id], r.refresh_token) not in live
    ]
    statuses = Counter(r.get("status") for r in refresh_responses(state))
    return {
        "installations": len(installation_ids),
        "queued_outcomes": dict(drawn),
        "token_endpoint_answers": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "refresh_calls": sum(statuses.values()),
        "client_outcomes": dict(stats),
        "retry_after_seen": sorted(set(retry_afters)),
        "violations": violations,
        "needs_reauth": Installation.objects.filter(
            pk__in=installation_ids, status="needs_reauth"
        ).count(),
        "not_fresh_at_end": len(not_fresh),
        "invalid_grant": invalid_grants(state),
        "seconds": round(elapsed, 2),
    }


# -- crash: kill -9 a worker mid-refresh -------------------------------------------------


def crash(
    state: Any,
    installation_id: int,
    env: dict[str, str],
    *,
    lease: int,
    hold: float = 60.0,
) -> dict[str, Any]:
    """Kill -9 a Celery worker while the sandbox holds its refresh open; sweep again.

    ``env`` must carry ``BENCH_REFRESH_LEASE=lease`` and a small
    ``BENCH_REFRESH_MARGIN`` (the sweep's dispatch countdown is margin / 10).
    """
    from django.utils import timezone

    from django_helpdesk_oauth.models import Installation, Token

    before = token_row(installation_id)
    Token.objects.filter(installation_id=installation_id).update(expires_at=timezone.now())
    # Held open, then a 503: the provider never processed it (its token is not spent).
    state.inject("token", status=503, delay=hold)
    client = celery_client(env)
    timeline: list[tuple[float, str]] = []
    started = time.monotonic()

    def mark(what: str) -> None:
        timeline.append((round(time.monotonic() - started, 2), what))

    worker = start_worker(env, concurrency=2)
    try:
        client.send_task(REFRESH_TASK, args=[installation_id])
        mark("refresh task sent")
        deadline = time.monotonic() + 30
        while not refresh_responses(state):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker never reached the provider:\n{worker.log()}")
            time.sleep(0.02)
        mark("provider holds the refresh open")
        worker.kill(signal.SIGKILL)
        mark("worker killed with SIGKILL")
        held = token_row(installation_id)
        lease_held = bool(held[3])
        untouched_while_held = held[:3] == before[:3]
        lease_expires_at = Token.objects.get(installation_id=installation_id).lease_expires_at
        wait = max(0.0, (lease_expires_at - timezone.now()).total_seconds()) + 0.5
        time.sleep(wait)
        mark("lease expired")
        worker = start_worker(env, concurrency=2)
        mark("new worker ready")
        client.send_task(SWEEP_TASK)
        mark("sweep sent")
        deadline = time.monotonic() + 60
        while token_row(installation_id)[2] < 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the next sweep never refreshed:\n{worker.log()}")
            time.sleep(0.05)
        mark("refreshed by the sweep's task")
    finally:
        worker.stop()
    after = token_row(installation_id)
    installation = Installation.objects.get(pk=installation_id)
    live = {t.token for t in state.live_refresh_tokens("kustomer", installation.tenant)}
    return {
        "lease_seconds": lease,
        "lease_held_after_kill": lease_held,
        "token_untouched_after_kill": untouched_while_held,
        "provider_refreshes_ok": len(refresh_responses(state, 200)),
        "invalid_grant": invalid_grants(state),
        "refresh_count": after[2],
        "lease_released": after[3] == "",
        "status": installation.status,
        "stored_refresh_token_live": after[1] in live,
        "timeline": timeline,
    }
