"""Run the benchmarks: ``python bench/run.py [--quick] [--only NAME,…] [--repeat N]``.

Writes ``bench/results.json``, prints a table and redraws ``docs/img/bench_*.png``.
Needs PostgreSQL (``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/bench``;
the database is created if missing) and Redis (``BENCH_REDIS_URL``, default db 14).

The sandbox providers run in this process, served by :class:`SandboxServer` (a
threaded stdlib WSGI server on loopback), so this process counts every
provider request; every client measured (the requests-oauthlib floor, the
Celery worker, the API clients) runs in a process of its own, side by side in
the same run. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")

BENCHMARKS = ("throughput", "queries", "sweep", "api", "install", "inprocess", "capacity")
RESULTS = ROOT / "bench" / "results.json"
IMAGES = ROOT / "docs" / "img"


# -- setup --------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    with psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config["NAME"],)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


class TimedApp:
    """WSGI middleware recording ``(path, start, end)`` of every request, server side."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.records: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            ended = time.perf_counter()
            with self.lock:
                self.records.append((environ.get("PATH_INFO", ""), started, ended))


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        ensure_database(os.environ["BENCH_DATABASE_URL"])
        import django

        django.setup()
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command

        from django_helpdesk_oauth.conf import app_settings
        from django_helpdesk_oauth.sandbox.endpoints import provider_settings
        from django_helpdesk_oauth.sandbox.server import SandboxServer
        from django_helpdesk_oauth.sandbox.state import state

        call_command("migrate", verbosity=0)
        self.state = state
        self.timed = TimedApp(WSGIHandler())
        self.server = SandboxServer(self.timed).start()
        self.sandbox = self.server.url + "/sandbox"
        settings.HELPDESK_OAUTH = {
            **settings.HELPDESK_OAUTH,
            "PROVIDERS": provider_settings(self.sandbox),
        }
        app_settings.reload()
        os.environ["BENCH_SANDBOX_URL"] = self.sandbox
        self.redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

    def reset(self) -> None:
        bench_reset_tables()
        self.state.reset()
        with self.timed.lock:
            self.timed.records.clear()

    def env(self, broker: str, **extra: str) -> dict[str, str]:
        from bench import harness

        queue = f"helpdesk-oauth-bench-{uuid.uuid4().hex[:8]}"
        overrides = {"BENCH_QUEUE": queue, "BENCH_SANDBOX_URL": self.sandbox, **extra}
        if broker == "redis":
            overrides["BENCH_BROKER_URL"] = self.redis_url
        else:
            folder = tempfile.mkdtemp(prefix="helpdesk-oauth-fs-broker-")
            overrides["BENCH_BROKER_URL"] = "filesystem://"
            overrides["BENCH_FS_BROKER_DIR"] = folder
        return harness.worker_env(**overrides)


def python() -> str:
    return sys.executable


def run_json(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_until_refreshed(count: int, worker: Any) -> None:
    """Poll PostgreSQL until ``count`` tokens have been refreshed by the Celery
    ``worker`` (at most 600 s; its log is raised with the error if it stops first)."""
    from django_helpdesk_oauth.models import Token

    deadline = time.monotonic() + 600
    while Token.objects.filter(refresh_count__gte=1).count() < count:
        if time.monotonic() > deadline or worker.process.poll() is not None:
            raise RuntimeError(f"the worker did not finish:\n{worker.log()[-3000:]}")
        time.sleep(0.02)


# -- 1. refresh throughput against the floor --------------------------------------------


def floor_run(bench: Bench, count: int, concurrency: int, delay: float) -> dict[str, Any]:
    from bench import harness

    bench.reset()
    bench.state.token_delay = delay
    harness.seed_kustomer(count)
    tokens = [t.token for t in bench.state.live_refresh_tokens("kustomer")]
    config = {
        "token_url": f"{bench.sandbox}/kustomer/oauth/token",
        "client_id": harness.KUSTOMER_CLIENT_ID,
        "client_secret": harness.KUSTOMER_CLIENT_SECRET,
        "tokens": tokens,
        "concurrency": concurrency,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    try:
        result = run_json(
            [python(), str(ROOT / "bench" / "floor.py"), handle.name], env=bench.env("redis")
        )
    finally:
        os.unlink(handle.name)
    result["provider_200"] = len(harness.refresh_responses(bench.state, 200))
    result["rate"] = result["ok"] / result["seconds"]
    return result


def ours_run(
    bench: Bench,
    worker: Any,
    env: dict[str, str],
    count: int,
    delay: float = 0.0,
    seed: Any = None,
) -> dict[str, Any]:
    import psutil

    from bench import harness

    bench.reset()
    bench.state.token_delay = delay
    ids = (seed or harness.seed_kustomer)(count)
    client = harness.celery_client(env)
    processes = [psutil.Process(worker.process.pid)]
    processes += processes[0].children(recursive=True)  # prefork pool children
    cpu = [p.cpu_times() for p in processes]
    started = time.perf_counter()
    with client.producer_or_acquire() as producer:
        for installation_id in ids:
            client.send_task(harness.REFRESH_TASK, args=[installation_id], producer=producer)
    published = time.perf_counter() - started
    wait_until_refreshed(count, worker)
    seconds = time.perf_counter() - started
    after = [p.cpu_times() for p in processes]
    worker_cpu = sum(
        (a.user - b.user) + (a.system - b.system) for a, b in zip(after, cpu, strict=True)
    )
    return {
        "seconds": seconds,
        "publish_seconds": published,
        "ok": count,
        "rate": count / seconds,
        "cpu_seconds": worker_cpu,
        "provider_200": len(harness.refresh_responses(bench.state, 200)),
        "invalid_grant": harness.invalid_grants(bench.state),
        "rotations": bench.state.counters["rotations"],
    }


def warm(bench: Bench, worker: Any, env: dict[str, str]) -> None:
    """A few refreshes first, so every worker thread has its database connection."""
    ours_run(bench, worker, env, 32)


def bench_throughput(bench: Bench) -> dict[str, Any]:
    from bench import harness

    args = bench.args
    count, concurrency = args.refreshes, 8
    rows = []
    for broker in ("redis", "filesystem"):
        env = bench.env(broker)
        worker = harness.start_worker(
            env, concurrency=concurrency, pool=args.pool, loglevel="warning"
        )
        try:
            warm(bench, worker, env)
            for delay in (0.0, 0.05):
                pairs = []
                for _ in range(args.repeat):
                    floor = floor_run(bench, count, concurrency, delay)
                    ours = ours_run(bench, worker, env, count, delay)
                    pairs.append((floor, ours))
                    print(
                        f"  throughput {broker:10} delay={delay * 1000:.0f}ms "
                        f"floor {floor['rate']:.0f}/s ours {ours['rate']:.0f}/s",
                        flush=True,
                    )
                ratios = [o["rate"] / f["rate"] for f, o in pairs]
                floor_cpu = statistics.median(f["cpu_seconds"] / f["ok"] for f, _ in pairs)
                ours_cpu = statistics.median(o["cpu_seconds"] / o["ok"] for _, o in pairs)
                rows.append(
                    {
                        "broker": broker,
                        "pool": args.pool,
                        "token_delay_ms": delay * 1000,
                        "refreshes": count,
                        "concurrency": concurrency,
                        "floor_per_s": statistics.median(f["rate"] for f, _ in pairs),
                        "ours_per_s": statistics.median(o["rate"] for _, o in pairs),
                        "ratio": statistics.median(ratios),
                        "ratios": ratios,
                        "target": 0.5 if delay == 0 else 0.95,
                        "floor_cpu_ms_per_refresh": floor_cpu * 1000,
                        "worker_cpu_ms_per_refresh": ours_cpu * 1000,
                        "publish_seconds": statistics.median(
                            o["publish_seconds"] for _, o in pairs
                        ),
                        "provider_refreshes_ok": [o["provider_200"] for _, o in pairs],
                        "invalid_grant": sum(o["invalid_grant"] for _, o in pairs),
                        "runs": [{"floor": f, "ours": o} for f, o in pairs],
                    }
                )
        finally:
            bench.state.token_delay = 0.0
            worker.stop()
            harness.purge_queue(env)
            if env.get("BENCH_FS_BROKER_DIR"):
                shutil.rmtree(env["BENCH_FS_BROKER_DIR"], ignore_errors=True)
    return {"rows": rows}


# -- 2. queries per refresh ---------------------------------------------------------------


def bench_queries(bench: Bench) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench import harness
    from django_helpdesk_oauth.tasks import refresh_installation_token

    bench.reset()
    ids = harness.seed_kustomer(50)

    def measure(installation_id: int) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            result = refresh_installation_token.apply(args=[installation_id]).get()
        assert result in ("refreshed", "fresh"), result
        return [" ".join(q["sql"].split()[:4])[:60] for q in captured.captured_queries]

    due = [measure(i) for i in ids]
    fresh = [measure(i) for i in ids[:10]]  # not due any more: the no-op path
    counts = [len(q) for q in due]
    return {
        "refreshes": len(due),
        "queries_per_refresh": {
            "min": min(counts),
            "max": max(counts),
            "mean": sum(counts) / len(counts),
        },
        "statements": due[0],
        "queries_when_not_due": max(len(q) for q in fresh),
        "statements_when_not_due": fresh[0],
        "target": 3,
    }


# -- 3. sweep cost as the table grows ----------------------------------------------------


def fill(total: int, due_every: int) -> None:
    """``total`` active installations, one in ``due_every`` due: one INSERT … SELECT each."""
    from django.db import connection

    from bench import harness
    from django_helpdesk_oauth.fields import EncryptedTextField
    from django_helpdesk_oauth.models import Installation, Token

    bench_reset_tables()
    app = harness.kustomer_app()
    cipher = EncryptedTextField().get_prep_value("not-a-real-token-" + "x" * 30)
    inst, tok = Installation._meta.db_table, Token._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {inst} (app_id, tenant, status, installed_at, updated_at,
                                    last_error, refresh_failures)
                SELECT %s, 'org' || g, 'active', now(), now(), '', 0
                FROM generate_series(1, %s) AS g""",
            [app.pk, total],
        )
        cursor.execute(
            f"""INSERT INTO {tok} (installation_id, access_token, refresh_token, token_type,
                                   scope, expires_at, issued_at, refresh_count, lease_owner)
                SELECT i.id, %s, %s, 'bearer', '',
                       CASE WHEN i.id %% %s = 0 THEN now() - i.id * interval '1 millisecond'
                            ELSE now() + interval '1 day' + (i.id %% 997) * interval '1 minute'
                       END,
                       now(), 0, ''
                FROM {inst} AS i""",
            [cipher, cipher, due_every],
        )
        cursor.execute(f"ANALYZE {inst}")
        cursor.execute(f"ANALYZE {tok}")


def bench_reset_tables() -> None:
    from django.db import connection

    from django_helpdesk_oauth.models import Installation, Token

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Token._meta.db_table}, {Installation._meta.db_table} CASCADE")


def bench_sweep(bench: Bench) -> dict[str, Any]:
    sizes = [(10_000, 10), (100_000, 10), (100_000, 100)]
    if bench.args.quick:
        sizes = [(10_000, 10), (30_000, 10), (30_000, 30)]
    rows = []
    for total, due_every in sizes:
        bench.reset()
        started = time.perf_counter()
        fill(total, due_every)
        filled = time.perf_counter() - started
        env = bench.env("redis")
        result = run_json([python(), str(ROOT / "bench" / "sweep_child.py")], env=env)
        result.update(
            installations=total,
            due=total // due_every,
            due_percent=100 / due_every,
            fill_seconds=filled,
        )
        rows.append(result)
        print(
            f"  sweep {total:>7} installations, {total // due_every:>6} due: "
            f"{result['seconds']:.2f}s, peak RSS +{result['rss_growth_mb']:.1f} MB",
            flush=True,
        )
    bench_reset_tables()
    return {"rows": rows}


# -- 4. API call overhead ---------------------------------------------------------------------


def bench_api(bench: Bench) -> dict[str, Any]:
    """``api_session()`` GETs against a plain ``requests.Session``: reused, and built per
    call (as a view does), alternating in one child process (``bench/api_child.py``)."""
    from bench import harness

    bench.reset()
    [installation_id] = harness.seed_kustomer(1, due=False)
    child = run_json(
        [
            python(),
            str(ROOT / "bench" / "api_child.py"),
            str(installation_id),
            str(bench.args.calls),
        ],
        env=bench.env("redis"),
    )
    calls = child["calls"]
    seconds, queries = child["seconds"], child["queries"]
    ms = {who: s / calls * 1000 for who, s in seconds.items()}
    result: dict[str, Any] = {
        "calls": calls,
        "ms_per_call": ms,
        "queries_per_call": {who: q / calls for who, q in queries.items()},
        # The session built once and reused (the first row, kept under its old keys).
        "ours_seconds": seconds["ours"],
        "plain_seconds": seconds["plain"],
        "queries": queries["ours"],
        "ratio": seconds["ours"] / seconds["plain"],
        "ours_ms_per_call": ms["ours"],
        "plain_ms_per_call": ms["plain"],
        "target_ratio": 1.10,
        # Built per call: against a plain session built per call, and against the reused one.
        "per_call_ratio": seconds["ours_per_call"] / seconds["plain_per_call"],
        "per_call_vs_reused_plain": seconds["ours_per_call"] / seconds["plain"],
        "per_call_ttl0_ratio": seconds["ours_per_call_ttl0"] / seconds["plain_per_call"],
        "per_call_target_ratio": 1.20,
        "session_token_ttl_s": 5,
    }
    result["queries_per_call_reused"] = result["queries_per_call"]["ours"]
    return result


# -- 5. install -> callback server time ------------------------------------------------


def bench_install(bench: Bench) -> dict[str, Any]:
    import requests

    from django_helpdesk_oauth.models import ProviderApp
    from django_helpdesk_oauth.sandbox.testing import consent

    bench.reset()
    ProviderApp.objects.all().delete()
    ProviderApp.objects.create(
        slug="gorgias",
        provider="gorgias",
        name="Bench Gorgias",
        client_id="gorgias-test-client",
        client_secret="gorgias-test-secret-0001",
    )
    from bench import harness

    harness.kustomer_app()
    flows = bench.args.flows
    out: dict[str, Any] = {}
    for slug, param in (("gorgias", "account"), ("kustomer", "org")):
        installs, callbacks = [], []
        for i in range(flows + 5):
            tenant = f"t{i}"
            with bench.timed.lock:
                bench.timed.records.clear()
            with requests.Session() as browser:
                start = browser.get(
                    f"{bench.server.url}/oauth/{slug}/install/",
                    params={param: tenant},
                    allow_redirects=False,
                    timeout=10,
                )
                assert start.status_code == 302, start.text
                decision = consent(browser, start, org=tenant if slug == "kustomer" else None)
                done = browser.get(decision.headers["Location"], allow_redirects=False, timeout=10)
                assert done.status_code == 302, done.text
            with bench.timed.lock:
                records = list(bench.timed.records)
            if i < 5:
                continue  # warm-up
            install = [e - s for p, s, e in records if p.endswith("/install/")]
            callback = [(s, e) for p, s, e in records if p.endswith("/callback/")]
            (cb_start, cb_end) = callback[0]
            provider = sum(
                e - s
                for p, s, e in records
                if p.startswith("/sandbox/") and p.endswith("/token") and cb_start <= s <= cb_end
            )
            installs.append(install[0] * 1000)
            callbacks.append((cb_end - cb_start - provider) * 1000)
        out[slug] = {
            "flows": flows,
            "install_ms": percentiles(installs),
            "callback_ms_excluding_provider": percentiles(callbacks),
        }
    return {"providers": out}


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return {"p50": statistics.median(values), "p95": cuts[18], "max": max(values)}


# -- 6. refresh throughput in-process, 1 and 4 threads -------------------------------------


def token_urls(provider: str, ids: list[int]) -> list[list[str]]:
    """``[token_url, refresh_token]`` of each installation, as our client would send it."""
    from django.conf import settings

    from django_helpdesk_oauth.models import Token

    template = settings.HELPDESK_OAUTH["PROVIDERS"][provider]["token_url"]
    rows = Token.objects.filter(installation_id__in=ids).select_related("installation")
    by_id = {t.installation_id: t for t in rows}
    return [
        [template.format(tenant=by_id[i].installation.tenant), by_id[i].refresh_token] for i in ids
    ]


def sandbox_counts(state: Any) -> dict[str, Any]:
    """What the sandbox saw: refresh requests, 200s, ``invalid_grant`` (400s), and double
    refreshes (a tenant's refresh token refreshed with success more than once)."""
    from collections import Counter

    from bench import harness

    answered = harness.refresh_responses(state)
    per_tenant = Counter(r.get("tenant") for r in answered if r.get("status") == 200)
    return {
        "refresh_requests": len(answered),
        "provider_200": sum(per_tenant.values()),
        "invalid_grant": sum(1 for r in answered if r.get("status") == 400),
        "double_refreshes": sum(n - 1 for n in per_tenant.values() if n > 1),
    }


def token_server_ms(bench: Bench) -> float:
    """Median milliseconds the sandbox took per token request, measured server-side."""
    with bench.timed.lock:
        times = [(e - s) * 1000 for p, s, e in bench.timed.records if "/oauth/token" in p]
    return statistics.median(times) if times else 0.0


def add_cycle(result: dict[str, Any], slots: int, bench: Bench) -> None:
    """Where a slot's time goes: ``cycle_ms`` per refresh per slot (slots ÷ rate), of it
    ``server_ms`` at the provider and ``overhead_ms`` the rest (client, database, queue)."""
    result["server_ms"] = token_server_ms(bench)
    result["cycle_ms"] = slots / result["rate"] * 1000
    result["overhead_ms"] = result["cycle_ms"] - result["server_ms"]


def child_refreshes(
    bench: Bench,
    mode: str,
    threads: int,
    count: int,
    provider: str,
    delay: float = 0.0,
    **env: str,
) -> dict[str, Any]:
    """``count`` due installations (plus one warm-up per thread) refreshed by
    ``bench/refresh_child.py`` on ``threads`` threads: ``mode`` ours or floor."""
    from bench import harness

    bench.reset()
    bench.state.token_delay = delay
    seed = harness.seed_zendesk if provider == "zendesk" else harness.seed_kustomer
    ids = seed(count + threads)
    items: list[Any] = ids if mode == "ours" else token_urls(provider, ids)
    if provider == "zendesk":
        creds = {
            "client_id": harness.ZENDESK_CLIENT_ID,
            "client_secret": harness.ZENDESK_CLIENT_SECRET,
            "extra": {"expires_in": harness.ZENDESK_LIFETIME},
        }
    else:
        creds = {
            "client_id": harness.KUSTOMER_CLIENT_ID,
            "client_secret": harness.KUSTOMER_CLIENT_SECRET,
        }
    config = {"mode": mode, "threads": threads, "warm": items[:threads], "items": items[threads:]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({**config, **creds}, handle)
    try:
        result = run_json(
            [python(), str(ROOT / "bench" / "refresh_child.py"), handle.name],
            env=bench.env("redis", **env),
        )
    finally:
        os.unlink(handle.name)
        bench.state.token_delay = 0.0
    result.update(sandbox_counts(bench.state))
    result["rate"] = result["ok"] / result["seconds"]
    result["cpu_ms_per_refresh"] = result["cpu_seconds"] / count * 1000
    add_cycle(result, threads, bench)
    if result["ok"] != count:
        raise RuntimeError(f"{mode}: {result['ok']} of {count} refreshes succeeded: {result}")
    return result


def bench_inprocess(bench: Bench) -> dict[str, Any]:
    """``refresh_installation_token`` called directly on 1 and 4 threads against the bare
    ``OAuth2Session.refresh_token`` loop on as many threads, over as many due rotating
    (Kustomer) tokens, alternating; both in child processes, the sandbox in this one."""
    args = bench.args
    count = 200 if args.quick else 1000
    rows = []
    for threads in (1, 4):
        pairs = []
        for _ in range(args.repeat):
            floor = child_refreshes(bench, "floor", threads, count, "kustomer")
            ours = child_refreshes(bench, "ours", threads, count, "kustomer")
            pairs.append((floor, ours))
            print(
                f"  in-process {threads} thread(s): floor {floor['rate']:.0f}/s "
                f"ours {ours['rate']:.0f}/s ({ours['statements'] / count:.2f} statements)",
                flush=True,
            )
        rows.append(
            {
                "provider": "kustomer",
                "threads": threads,
                "refreshes": count,
                "floor_per_s": statistics.median(f["rate"] for f, _ in pairs),
                "ours_per_s": statistics.median(o["rate"] for _, o in pairs),
                "ratio": statistics.median(o["rate"] / f["rate"] for f, o in pairs),
                "ratios": [o["rate"] / f["rate"] for f, o in pairs],
                "target": 0.5,
                "statements_per_refresh": statistics.median(
                    o["statements"] / count for _, o in pairs
                ),
                "reads_per_refresh": statistics.median(o["reads"] / count for _, o in pairs),
                "writes_per_refresh": statistics.median(o["writes"] / count for _, o in pairs),
                "statement_kinds": pairs[0][1]["statement_kinds"],
                "floor_cpu_ms_per_refresh": statistics.median(
                    f["cpu_ms_per_refresh"] for f, _ in pairs
                ),
                "ours_cpu_ms_per_refresh": statistics.median(
                    o["cpu_ms_per_refresh"] for _, o in pairs
                ),
                "invalid_grant": sum(f["invalid_grant"] + o["invalid_grant"] for f, o in pairs),
                "double_refreshes": sum(o["double_refreshes"] for _, o in pairs),
                "server_ms": statistics.median(o["server_ms"] for _, o in pairs),
                "floor_overhead_ms": statistics.median(f["overhead_ms"] for f, _ in pairs),
                "ours_overhead_ms": statistics.median(o["overhead_ms"] for _, o in pairs),
                "runs": [{"floor": f, "ours": o} for f, o in pairs],
            }
        )
    return {"rows": rows, "profile": profile_ours(bench, 300 if args.quick else 500)}


def profile_ours(bench: Bench, count: int) -> dict[str, Any]:
    """One more single-thread run of ours under cProfile (``BENCH_PROFILE``): per refresh,
    the cumulative wall milliseconds of the functions that explain the time."""
    import pstats

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ours.prof")
        run = child_refreshes(bench, "ours", 1, count, "kustomer", BENCH_PROFILE=path)
        stats = pstats.Stats(path)
    wanted = {
        ("tasks.py", "refresh_installation_token"): "refresh_installation_token (whole)",
        ("refresh.py", "_snapshot"): "SELECT token + installation + app (_snapshot)",
        ("refresh.py", "_take_lease"): "lease UPDATE (_take_lease)",
        ("client.py", "refresh"): "token request (client.refresh)",
        ("transport.py", "request"): "  of it: transport.request",
        ("threading.py", "join"): "  of it: waiting on the call's thread (Thread.join)",
        ("compiler.py", "execute_sql"): "ORM execute_sql (all statements)",
        ("connection.py", "wait"): "  of it: psycopg waiting for PostgreSQL",
        ("query.py", "build_filter"): "  of it: ORM build_filter",
    }
    parts: dict[str, float] = {}
    raw: Any = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in raw.items():
        for (file_end, name), label in wanted.items():
            if filename.endswith(file_end) and function == name:
                # The largest entry: an override calling its base (UPDATE's execute_sql
                # calls SQLCompiler.execute_sql) is inside it, not beside it.
                parts[label] = max(parts.get(label, 0.0), cumulative / count * 1000)
    order = list(wanted.values())
    return {
        "refreshes": count,
        "per_s_under_profile": run["rate"],
        "wall_ms_per_refresh": {k: round(parts[k], 2) for k in order if k in parts},
        "command": "BENCH_PROFILE=… bench/refresh_child.py (ours, 1 thread), see bench_inprocess",
    }


# -- 7. capacity: Zendesk at 200 ms through a Celery worker, prefork and threads -----------

#: Seconds the sandbox's token endpoint takes to answer in the capacity benchmark.
ZENDESK_DELAY = 0.2
#: (pool, concurrency) of the worker measured; the floor runs at the same concurrency.
CAPACITY_CONFIGS = (("prefork", 8), ("prefork", 16), ("threads", 32), ("threads", 64))
#: Seconds between two refreshes of one tenant: a token is refreshed when
#: ``min(REFRESH_MARGIN, lifetime / 2)`` is left (REFRESH_MARGIN's default: 1800 s).
REFRESH_INTERVALS = {"30 min": 1800 - min(1800, 1800 / 2), "24 h": 86400 - min(1800, 86400 / 2)}


class ConnectionSampler:
    """The peak number of PostgreSQL connections to the bench database, sampled every
    0.1 s on a connection of its own (counted in the figure: subtract 1)."""

    def __init__(self) -> None:
        import psycopg
        from django.db import connection

        db = connection.settings_dict
        self.conn = psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"] or "postgres",
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
            autocommit=True,
        )
        self.samples: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0

    def _run(self) -> None:
        while not self.stopped.wait(0.1):
            self.samples.append(self.count())

    def __enter__(self) -> ConnectionSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def close(self) -> None:
        self.conn.close()

    @classmethod
    def once(cls) -> int:
        """The connections to the bench database now (this one included)."""
        sampler = cls()
        try:
            return sampler.count()
        finally:
            sampler.close()


def drain_run(
    bench: Bench, pool: str, concurrency: int, count: int, delay: float
) -> dict[str, Any]:
    """Publish ``count`` refresh tasks of due Zendesk installations to an idle queue, then
    start a worker (``pool``, ``-c concurrency``) and time it from the moment it announces
    it consumes until PostgreSQL shows every token refreshed; the worker is stopped after.

    The driver publishes before the clock starts: it also serves the sandbox, and
    publishing while the worker drains would take the sandbox's interpreter from it
    (a sweep publishes from the beat's process, not the provider's)."""
    import psutil

    from bench import harness
    from django_helpdesk_oauth.models import Token

    bench.reset()
    bench.state.token_delay = delay
    ids = harness.seed_zendesk(count)
    env = bench.env("redis")
    client = harness.celery_client(env)
    with client.producer_or_acquire() as producer:
        for installation_id in ids:
            client.send_task(harness.REFRESH_TASK, args=[installation_id], producer=producer)
    times_dir = tempfile.mkdtemp(prefix="helpdesk-oauth-task-times-")
    env["BENCH_TASK_TIMES"] = times_dir
    idle = ConnectionSampler.once()  # the driver's own and the sampler's
    with ConnectionSampler() as peak:
        worker = harness.start_worker(env, concurrency=concurrency, pool=pool, loglevel="warning")
        try:
            started = time.perf_counter() - (time.time() - worker.ready_at)
            processes = [psutil.Process(worker.process.pid)]
            processes += processes[0].children(recursive=True)  # prefork pool children
            cpu = [p.cpu_times() for p in processes]
            wait_until_refreshed(count, worker)
            seconds = time.perf_counter() - started
            after = [p.cpu_times() for p in processes]
        finally:
            worker.stop()
            harness.purge_queue(env)
            bench.state.token_delay = 0.0
    peak.close()
    worker_cpu = sum(
        (a.user - b.user) + (a.system - b.system) for a, b in zip(after, cpu, strict=True)
    )
    result = {
        "seconds": seconds,
        "ok": count,
        "rate": count / seconds,
        "cpu_seconds": worker_cpu,
        "rotations": bench.state.counters["rotations"],
        **sandbox_counts(bench.state),
        "leases_left": Token.objects.exclude(lease_owner="").count(),
        "refreshed_twice_in_db": Token.objects.filter(refresh_count__gt=1).count(),
        # The worker's connections: the driver's and the sampler's are not counted.
        "peak_connections": max(peak.samples, default=idle) - idle,
    }
    add_cycle(result, concurrency, bench)
    durations = []
    for path in Path(times_dir).glob("*.json"):
        durations += json.loads(path.read_text())
    shutil.rmtree(times_dir, ignore_errors=True)
    # A slot's cycle = the task (provider + our work in it) + the wait for the next task.
    result["task_ms"] = statistics.median(durations) * 1000 if durations else None
    if durations:
        result["in_task_overhead_ms"] = result["task_ms"] - result["server_ms"]
        result["between_tasks_ms"] = result["cycle_ms"] - result["task_ms"]
    time.sleep(0.3)
    result["connections_after_stop"] = ConnectionSampler.once() - idle
    return result


def single_flight_run(
    bench: Bench, pool: str, concurrency: int, count: int, copies: int = 3
) -> dict[str, Any]:
    """Each of ``count`` due Zendesk installations' refresh task published ``copies``
    times (as overlapping sweeps would), drained by one worker at 200 ms: the lease must
    let exactly one refresh per installation reach the provider."""
    import redis

    from bench import harness
    from django_helpdesk_oauth.models import Token

    bench.reset()
    bench.state.token_delay = ZENDESK_DELAY
    ids = harness.seed_zendesk(count)
    env = bench.env("redis")
    client = harness.celery_client(env)
    with client.producer_or_acquire() as producer:
        for _ in range(copies):
            for installation_id in ids:
                client.send_task(harness.REFRESH_TASK, args=[installation_id], producer=producer)
    queue = redis.Redis.from_url(env["BENCH_BROKER_URL"])
    worker = harness.start_worker(env, concurrency=concurrency, pool=pool, loglevel="warning")
    try:
        deadline = time.monotonic() + 300
        while (
            Token.objects.filter(refresh_count__gte=1).count() < count
            or queue.llen(env["BENCH_QUEUE"]) > 0
            or Token.objects.exclude(lease_owner="").exists()
        ):
            if time.monotonic() > deadline or worker.process.poll() is not None:
                raise RuntimeError(f"the worker did not finish:\n{worker.log()[-3000:]}")
            time.sleep(0.05)
        time.sleep(1.0)  # the last copies, taken but not yet finished, finish
    finally:
        worker.stop()
        harness.purge_queue(env)
        bench.state.token_delay = 0.0
    return {
        "installations": count,
        "tasks": count * copies,
        **sandbox_counts(bench.state),
        "refreshed_twice_in_db": Token.objects.filter(refresh_count__gt=1).count(),
        "leases_left": Token.objects.exclude(lease_owner="").count(),
    }


def bench_capacity(bench: Bench) -> dict[str, Any]:
    """Due Zendesk installations (rotating on every refresh, 30-minute tokens) drained by
    one Celery worker on Redis and PostgreSQL while the sandbox's token endpoint takes
    200 ms, with a prefork and a threads pool, against the floor (bare requests-oauthlib
    on as many threads) at the same concurrency; invalid_grant and double refreshes
    counted from the sandbox's side, leases and connections from PostgreSQL's."""

    args = bench.args
    count = 400 if args.quick else 2000
    rows = []
    configs = [item.split(":") for item in args.capacity_configs.split(",") if item]
    for pool, concurrency in ((p, int(c)) for p, c in configs):
        pairs = []
        for _ in range(args.repeat):
            floor = child_refreshes(bench, "floor", concurrency, count, "zendesk", ZENDESK_DELAY)
            ours = drain_run(bench, pool, concurrency, count, ZENDESK_DELAY)
            pairs.append((floor, ours))
            print(
                f"  capacity {pool:7} -c {concurrency:<2}: floor {floor['rate']:.1f}/s "
                f"ours {ours['rate']:.1f}/s, {ours['invalid_grant']} invalid_grant, "
                f"{ours['double_refreshes']} double, "
                f"{ours['peak_connections']} connections at peak",
                flush=True,
            )
        # Our refresh code alone at the same concurrency (refresh_installation_token called
        # on as many threads in one process, no broker, no worker): what Celery adds.
        direct = child_refreshes(
            bench, "ours", concurrency, min(count, 25 * concurrency), "zendesk", ZENDESK_DELAY
        )
        flight = single_flight_run(bench, pool, concurrency, 100 if args.quick else 300)
        print(
            f"  single flight {pool:7} -c {concurrency:<2}: {flight['tasks']} tasks for "
            f"{flight['installations']} installations -> {flight['provider_200']} refreshes, "
            f"{flight['double_refreshes']} double, {flight['invalid_grant']} invalid_grant",
            flush=True,
        )
        rate = statistics.median(o["rate"] for _, o in pairs)
        rows.append(
            {
                "provider": "zendesk",
                "broker": "redis",
                "pool": pool,
                "concurrency": concurrency,
                "token_delay_ms": ZENDESK_DELAY * 1000,
                "refreshes": count,
                "floor_per_s": statistics.median(f["rate"] for f, _ in pairs),
                "ours_per_s": rate,
                "ratio": statistics.median(o["rate"] / f["rate"] for f, o in pairs),
                "ratios": [o["rate"] / f["rate"] for f, o in pairs],
                "target": 0.9,
                "latency_bound_per_s": concurrency / ZENDESK_DELAY,
                "worker_cpu_ms_per_refresh": statistics.median(
                    o["cpu_seconds"] / o["ok"] * 1000 for _, o in pairs
                ),
                "floor_cpu_ms_per_refresh": statistics.median(
                    f["cpu_ms_per_refresh"] for f, _ in pairs
                ),
                "invalid_grant": sum(o["invalid_grant"] for _, o in pairs),
                "floor_invalid_grant": sum(f["invalid_grant"] for f, _ in pairs),
                "double_refreshes": sum(o["double_refreshes"] for _, o in pairs),
                "refreshed_twice_in_db": sum(o["refreshed_twice_in_db"] for _, o in pairs),
                "leases_left": sum(o["leases_left"] for _, o in pairs),
                "peak_connections": max(o["peak_connections"] for _, o in pairs),
                "connections_after_stop": max(o["connections_after_stop"] for _, o in pairs),
                "server_ms": statistics.median(o["server_ms"] for _, o in pairs),
                "floor_overhead_ms": statistics.median(f["overhead_ms"] for f, _ in pairs),
                "ours_overhead_ms": statistics.median(o["overhead_ms"] for _, o in pairs),
                "task_ms": statistics.median(o["task_ms"] or 0 for _, o in pairs),
                "in_task_overhead_ms": statistics.median(
                    o.get("in_task_overhead_ms", 0) for _, o in pairs
                ),
                "between_tasks_ms": statistics.median(
                    o.get("between_tasks_ms", 0) for _, o in pairs
                ),
                "single_flight": flight,
                "without_celery": {
                    "per_s": direct["rate"],
                    "ratio": direct["rate"] / statistics.median(f["rate"] for f, _ in pairs),
                    "overhead_ms": direct["overhead_ms"],
                    "cpu_ms_per_refresh": direct["cpu_ms_per_refresh"],
                    "statements_per_refresh": direct["statements"] / direct["ok"],
                    "refreshes": direct["ok"],
                },
                "tenants_per_worker": {k: rate * v for k, v in REFRESH_INTERVALS.items()},
                "refresh_interval_s": REFRESH_INTERVALS,
                "runs": [{"floor": f, "ours": o} for f, o in pairs],
            }
        )
    return {"rows": rows}


# -- report -----------------------------------------------------------------------------


def plot(results: dict[str, Any], images: Path = IMAGES) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: Any, name: str, benchmark: str) -> str:
        """Save with the command that measured it written under the plot."""
        command = f".venv/bin/python bench/run.py --only {benchmark}"
        if results.get("quick"):
            command += " --quick"
        fig.text(0.01, 0.01, command, fontsize=7, color="dimgray", family="monospace")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        path = images / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    throughput = results["benchmarks"].get("throughput")
    if throughput:
        rows = throughput["rows"]
        fig, ax = plt.subplots(figsize=(8, 4.2))
        labels = [f"{r['broker']}\n{r['token_delay_ms']:.0f} ms provider" for r in rows]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["floor_per_s"] for r in rows], 0.4, label="floor")
        ax.bar([x + 0.2 for x in xs], [r["ours_per_s"] for r in rows], 0.4, label="ours")
        for x, r in zip(xs, rows, strict=True):
            ax.text(x + 0.2, r["ours_per_s"], f"{r['ratio']:.2f}x", ha="center", va="bottom")
        ax.set_xticks(list(xs), labels)
        ax.set_ylabel("refreshes per second")
        ax.set_title(
            f"{rows[0]['refreshes']} Kustomer refreshes, concurrency {rows[0]['concurrency']}: "
            "requests-oauthlib floor vs Celery + PostgreSQL"
        )
        ax.legend()
        fig.tight_layout()
        path = images / "bench_refresh_throughput.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    sweep = results["benchmarks"].get("sweep")
    if sweep:
        rows = sweep["rows"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
        labels = [f"{r['installations'] // 1000}k\n{r['due']} due" for r in rows]
        left.bar(labels, [r["seconds"] for r in rows], color="tab:blue")
        left.set_ylabel("sweep wall time (s)")
        left.set_title("time follows the due count")
        right.bar(
            labels, [r["rss_growth_mb"] for r in rows], color="tab:orange", label="RSS growth"
        )
        right.plot(labels, [r["tracemalloc_peak_mb"] for r in rows], "ko-", label="Python peak")
        right.set_ylabel("MB")
        right.set_title("peak memory stays flat")
        right.legend()
        fig.tight_layout()
        path = images / "bench_sweep.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    inprocess = results["benchmarks"].get("inprocess")
    if inprocess:
        rows = inprocess["rows"]
        fig, ax = plt.subplots(figsize=(8, 4.4))
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["floor_per_s"] for r in rows], 0.4, label="floor")
        ax.bar([x + 0.2 for x in xs], [r["ours_per_s"] for r in rows], 0.4, label="ours")
        for x, r in zip(xs, rows, strict=True):
            ax.text(
                x + 0.2,
                r["ours_per_s"],
                f"{r['ratio']:.2f}x\n{r['statements_per_refresh']:.1f} stmt",
                ha="center",
                va="bottom",
            )
        ax.set_xticks(list(xs), [f"{r['threads']} thread(s)" for r in rows])
        ax.set_ylabel("refreshes per second")
        ax.set_title(
            f"{rows[0]['refreshes']} due Kustomer refreshes in-process, loopback sandbox:\n"
            "refresh_installation_token vs OAuth2Session.refresh_token (target 0.5x)"
        )
        ax.legend()
        written.append(save(fig, "bench_refresh_inprocess.png", "inprocess"))
    capacity = results["benchmarks"].get("capacity")
    if capacity:
        rows = capacity["rows"]
        fig, ax = plt.subplots(figsize=(8.5, 4.6))
        xs = range(len(rows))
        w = 0.27
        ax.bar([x - w for x in xs], [r["floor_per_s"] for r in rows], w, label="floor")
        ax.bar(list(xs), [r["ours_per_s"] for r in rows], w, label="one Celery worker")
        ax.bar(
            [x + w for x in xs],
            [r["without_celery"]["per_s"] for r in rows],
            w,
            label="our refresh, no Celery",
            color="tab:gray",
        )
        ax.plot(
            list(xs), [r["latency_bound_per_s"] for r in rows], "k_", ms=30, label="slots / 0.2 s"
        )
        for x, r in zip(xs, rows, strict=True):
            ax.text(x, r["ours_per_s"] / 2, f"{r['ratio']:.2f}x", ha="center", color="white")
        ax.set_xticks(list(xs), [f"{r['pool']}\n-c {r['concurrency']}" for r in rows])
        ax.set_ylabel("refreshes per second")
        ax.set_title(
            f"{rows[0]['refreshes']} due Zendesk refreshes, token endpoint 200 ms:\n"
            "Celery worker (Redis, PostgreSQL) vs floor at equal concurrency (target 0.9x)"
        )
        ax.legend()
        written.append(save(fig, "bench_capacity.png", "capacity"))
    api = results["benchmarks"].get("api")
    if api and "ms_per_call" in api:
        ms = api["ms_per_call"]
        names = [
            ("plain", "plain\nreused"),
            ("ours", "api_session()\nreused"),
            ("plain_per_call", "plain\nper call"),
            ("ours_per_call", "api_session()\nper call"),
            ("ours_per_call_ttl0", "per call,\nTTL 0"),
        ]
        fig, ax = plt.subplots(figsize=(8, 4.2))
        colors = ["tab:blue", "tab:orange", "tab:blue", "tab:orange", "tab:gray"]
        ax.bar([label for _, label in names], [ms[k] for k, _ in names], color=colors)
        for i, (k, _) in enumerate(names):
            q = api["queries_per_call"][k]
            ax.text(i, ms[k], f"{ms[k]:.2f} ms\n{q:.3f} q", ha="center", va="bottom")
        ax.set_ylabel("ms per GET")
        ax.set_title(f"{api['calls']} GETs each, loopback sandbox API")
        written.append(save(fig, "bench_api.png", "api"))
    return written


def table(results: dict[str, Any]) -> str:
    lines = []
    b = results["benchmarks"]
    if "throughput" in b:
        lines.append("1. refresh throughput (median of runs)")
        lines.append(
            "   broker      provider  floor/s  ours/s  ratio  target  cpu ms/refresh floor|worker"
        )
        for r in b["throughput"]["rows"]:
            ok = "met" if r["ratio"] >= r["target"] else "MISSED"
            lines.append(
                f"   {r['broker']:10}  {r['token_delay_ms']:>5.0f}ms  {r['floor_per_s']:7.0f}  "
                f"{r['ours_per_s']:6.0f}  {r['ratio']:5.2f}  ≥{r['target']:.2f} {ok:6}  "
                f"{r['floor_cpu_ms_per_refresh']:.1f} | {r['worker_cpu_ms_per_refresh']:.1f}"
            )
    if "queries" in b:
        q = b["queries"]
        lines.append(
            f"2. queries per refresh: {q['queries_per_refresh']} (target ≤ {q['target']}); "
            f"not due: {q['queries_when_not_due']}"
        )
        for statement in q["statements"]:
            lines.append(f"   {statement}")
    if "sweep" in b:
        lines.append("3. sweep (dispatch only)")
        lines.append("   installations  due     seconds  RSS growth MB  Python peak MB")
        for r in b["sweep"]["rows"]:
            lines.append(
                f"   {r['installations']:>13}  {r['due']:>6}  {r['seconds']:7.2f}  "
                f"{r['rss_growth_mb']:13.1f}  {r['tracemalloc_peak_mb']:14.1f}"
            )
    if "api" in b:
        a = b["api"]
        lines.append(
            f"4. API calls: ours {a['ours_ms_per_call']:.2f} ms, "
            f"plain {a['plain_ms_per_call']:.2f} ms, "
            f"ratio {a['ratio']:.3f} (target ≤ 1.10), "
            f"{a['queries_per_call_reused']:.4f} queries/call"
        )
        if "per_call_ratio" in a:
            q = a["queries_per_call"]
            lines.append(
                f"   built per call: ratio {a['per_call_ratio']:.3f} vs plain per call "
                f"(target ≤ 1.20), {q['ours_per_call']:.4f} queries/call; "
                f"TTL 0: {a['per_call_ttl0_ratio']:.3f}, {q['ours_per_call_ttl0']:.2f} queries/call"
            )
    if "install" in b:
        lines.append(
            "5. install -> callback server time, ms (callback excludes the provider's time)"
        )
        for slug, r in b["install"]["providers"].items():
            i, c = r["install_ms"], r["callback_ms_excluding_provider"]
            lines.append(
                f"   {slug:9} install p50 {i['p50']:.1f} p95 {i['p95']:.1f} | "
                f"callback p50 {c['p50']:.1f} p95 {c['p95']:.1f}"
            )
    if "inprocess" in b:
        lines.append("6. in-process refresh throughput (Kustomer, loopback), median of runs")
        lines.append("   threads  floor/s  ours/s  ratio  target  statements (reads+writes)")
        for r in b["inprocess"]["rows"]:
            ok = "met" if r["ratio"] >= r["target"] else "MISSED"
            lines.append(
                f"   {r['threads']:>7}  {r['floor_per_s']:7.0f}  {r['ours_per_s']:6.0f}  "
                f"{r['ratio']:5.2f}  ≥{r['target']:.2f} {ok:6}  {r['statements_per_refresh']:.2f} "
                f"({r['reads_per_refresh']:.2f}+{r['writes_per_refresh']:.2f})"
            )
    if "capacity" in b:
        lines.append("7. capacity: Zendesk, 200 ms token endpoint, one worker vs floor")
        lines.append(
            "   pool      -c  floor/s  ours/s  ratio  target  invalid double  conns  "
            "tenants (30 min | 24 h)"
        )
        for r in b["capacity"]["rows"]:
            ok = "met" if r["ratio"] >= r["target"] else "MISSED"
            t = r["tenants_per_worker"]
            lines.append(
                f"   {r['pool']:8} {r['concurrency']:>3}  {r['floor_per_s']:7.1f}  "
                f"{r['ours_per_s']:6.1f}  {r['ratio']:5.2f}  ≥{r['target']:.2f} {ok:6}  "
                f"{r['invalid_grant']:>3} {r['double_refreshes']:>6}  {r['peak_connections']:>5}  "
                f"{t['30 min']:,.0f} | {t['24 h']:,.0f}"
            )
            f = r["single_flight"]
            lines.append(
                f"      per refresh: provider {r['server_ms']:.0f} ms, overhead floor "
                f"{r['floor_overhead_ms']:.0f} ms | ours {r['ours_overhead_ms']:.0f} ms "
                f"({r['in_task_overhead_ms']:.0f} in the task, "
                f"{r['between_tasks_ms']:.0f} between tasks); "
                f"single flight: {f['tasks']} tasks -> {f['provider_200']} refreshes, "
                f"{f['double_refreshes']} double, {f['invalid_grant']} invalid_grant"
            )
            d = r["without_celery"]
            lines.append(
                f"      without Celery (same code, {r['concurrency']} threads in one process): "
                f"{d['per_s']:.1f}/s, {d['ratio']:.2f}x the floor"
            )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import django
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under 2 minutes")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--repeat", type=int, default=None, help="runs per throughput row")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument(
        "--pool", default="prefork", choices=["prefork", "threads"], help="Celery worker pool"
    )
    parser.add_argument(
        "--capacity-configs",
        default=",".join(f"{p}:{c}" for p, c in CAPACITY_CONFIGS),
        help="POOL:CONCURRENCY,… the capacity benchmark measures",
    )
    args = parser.parse_args(argv)
    args.refreshes = 300 if args.quick else 2000
    args.calls = 400 if args.quick else 2000
    args.flows = 20 if args.quick else 100
    args.repeat = args.repeat or (1 if args.quick else 3)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    bench = Bench(args)
    results: dict[str, Any] = {
        "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "benchmarks": {},
    }
    previous: dict[str, Any] = {}
    output = Path(args.output)
    if output.exists() and set(selected) != set(BENCHMARKS):
        earlier = json.loads(output.read_text())
        previous = earlier.get("benchmarks", {})
        # A kept entry keeps the provenance of the run that measured it.
        for entry in previous.values():
            entry.setdefault(
                "run", {k: earlier.get(k) for k in ("command", "quick", "machine", "started")}
            )
    try:
        for name in BENCHMARKS:
            if name not in selected:
                if name in previous:
                    results["benchmarks"][name] = previous[name]
                continue
            print(f"== {name}", flush=True)
            started = time.perf_counter()
            results["benchmarks"][name] = globals()[f"bench_{name}"](bench)
            results["benchmarks"][name]["wall_seconds"] = time.perf_counter() - started
    finally:
        bench.reset()
        bench.server.stop()
    results["machine"]["loadavg_after"] = os.getloadavg()
    # docs/img only for the default output; a run written elsewhere plots beside it.
    # Only the benchmarks this run measured are redrawn (kept entries keep their images).
    measured = {
        "quick": args.quick,
        "benchmarks": {n: results["benchmarks"][n] for n in selected},
    }
    results["images"] = plot(measured, IMAGES if output == RESULTS else output.parent)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
