"""Where a refresh's time goes: ``python bench/profile_refresh.py [--top N] [--write-baseline]``.

One process, no Celery worker, the sandbox served by a :class:`SandboxServer`
thread in this process (so both sides share its cost), PostgreSQL from
``BENCH_DATABASE_URL``. Measures, next to the bare requests-oauthlib refresh
(the floor, a new ``OAuth2Session`` per refresh, no database):

- per part, the client-side CPU (``time.thread_time``: this thread only, so the
  sandbox's own CPU is not in it) and wall time per call, in milliseconds;
- the SQL statements one refresh sends (due, and not due), counted with
  ``CaptureQueriesContext`` on the default connection;
- throughput, refreshes per second at 1 and 4 threads, ours
  (``refresh_installation_token.apply``, the Celery task run in-process) and the
  floor over tokens of the same kind, alternating, and their ratio;
- a cProfile of 200 due refreshes sorted by own time.

Writes ``bench/profile.json`` (``--write-baseline``: ``bench/profile.baseline.json``
instead). When a baseline file exists, each figure is printed next to it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")

PROFILE = ROOT / "bench" / "profile.json"
BASELINE = ROOT / "bench" / "profile.baseline.json"

#: Installations seeded, and how many each measurement spends (a rotating refresh
#: token is spent once: every measurement uses installations of its own).
SEEDED = 2400
PER_PART = 200
PER_RUN = 300
THREADS = (1, 4)


def per_call(fn: Callable[[Any], Any], items: Sequence[Any]) -> dict[str, float]:
    """CPU (this thread) and wall milliseconds per call of ``fn`` over ``items``."""
    cpu, wall = time.thread_time(), time.perf_counter()
    for item in items:
        fn(item)
    n = len(items)
    return {
        "cpu_ms": round((time.thread_time() - cpu) / n * 1000, 3),
        "wall_ms": round((time.perf_counter() - wall) / n * 1000, 3),
    }


def per_second(fn: Callable[[Any], Any], items: Sequence[Any], threads: int) -> float:
    """Calls of ``fn`` per second over ``items`` on ``threads`` threads (each call checked)."""
    from django.db import connections

    def run(item: Any) -> None:
        if not fn(item):
            raise RuntimeError(f"a refresh failed during the throughput run ({item!r})")

    def close_connections(_: Any) -> None:
        connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: None, range(threads)))  # threads started before the clock
        started = time.perf_counter()
        list(pool.map(run, items))
        seconds = time.perf_counter() - started
        if threads > 1:  # each worker thread's own database connection
            list(pool.map(close_connections, range(threads)))
    return round(len(items) / seconds, 1)


def statements(fn: Callable[[], Any]) -> list[str]:
    """The SQL statements ``fn`` sends on the default connection, each cut to its head."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return [" ".join(q["sql"].split())[:90] for q in captured.captured_queries]


class Slices:
    """Consecutive slices of a list: each measurement takes installations of its own."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items, self.at = list(items), 0

    def take(self, count: int) -> list[Any]:
        taken = self.items[self.at : self.at + count]
        if len(taken) < count:
            raise RuntimeError(f"seed more than {len(self.items)}")
        self.at += count
        return taken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help=f"write {BASELINE.name} (what later runs compare with) instead of {PROFILE.name}",
    )
    args = parser.parse_args()
    from bench.run import Bench

    class Quick:
        quick = True

    bench = Bench(Quick())  # type: ignore[arg-type]
    from requests_oauthlib import OAuth2Session

    from bench import harness
    from django_helpdesk_oauth import client
    from django_helpdesk_oauth.models import Installation
    from django_helpdesk_oauth.services import refresh_installation
    from django_helpdesk_oauth.services.creds import credentials
    from django_helpdesk_oauth.tasks import refresh_installation_token

    floor_url = f"{bench.sandbox}/kustomer/oauth/token"

    def task(installation_id: int) -> bool:
        return bool(refresh_installation_token.apply(args=[installation_id]).get() == "refreshed")

    def floor(refresh_token: str) -> bool:
        session = OAuth2Session(client_id=harness.KUSTOMER_CLIENT_ID)
        try:
            token = session.refresh_token(
                floor_url,
                refresh_token=refresh_token,
                client_id=harness.KUSTOMER_CLIENT_ID,
                client_secret=harness.KUSTOMER_CLIENT_SECRET,
                timeout=10,
            )
        finally:
            session.close()
        return bool(token.get("access_token"))

    parts: dict[str, dict[str, float]] = {}
    counts: dict[str, list[str]] = {}
    throughput: dict[str, dict[str, float]] = {}
    try:
        bench.reset()
        ids = Slices(harness.seed_kustomer(SEEDED))
        app = harness.kustomer_app()
        tenants = dict(Installation.objects.values_list("pk", "tenant"))
        # The floor spends tokens of installations the package never refreshes.
        by_tenant = {t.tenant: t.token for t in bench.state.live_refresh_tokens("kustomer")}

        def spare_tokens(count: int) -> list[str]:
            return [by_tenant[tenants[i]] for i in ids.take(count)]

        def tenant_tokens(count: int) -> list[tuple[str, str]]:
            return [(tenants[i], by_tenant[tenants[i]]) for i in ids.take(count)]

        for installation_id in ids.take(20):  # warm-up: imports, connections, caches
            refresh_installation(installation_id)
        for refresh_token in spare_tokens(20):
            floor(refresh_token)

        due = ids.take(PER_PART)
        counts["due"] = statements(lambda: refresh_installation(due[0]))
        counts["not due"] = statements(lambda: refresh_installation(due[0]))
        parts["refresh_installation (due)"] = per_call(refresh_installation, due[1:])
        parts["refresh_installation (not due)"] = per_call(refresh_installation, due[1:])
        parts["task.apply (due)"] = per_call(task, ids.take(PER_PART))
        parts["task.apply (not due)"] = per_call(task, due[1:])
        parts["floor: OAuth2Session.refresh_token"] = per_call(floor, spare_tokens(PER_PART))

        def our_http(pair: tuple[str, str]) -> None:
            tenant, refresh_token = pair
            client.refresh(credentials(app, tenant), refresh_token=refresh_token)

        parts["client.refresh (our HTTP layer)"] = per_call(our_http, tenant_tokens(PER_PART))

        for threads in THREADS:  # alternating, ours first
            ours = per_second(task, ids.take(PER_RUN), threads)
            bare = per_second(floor, spare_tokens(PER_RUN), threads)
            throughput[f"{threads} thread{'s' if threads > 1 else ''}"] = {
                "ours_per_s": ours,
                "floor_per_s": bare,
                "ratio": round(ours / bare, 2),
            }

        profile = cProfile.Profile()
        profiled = ids.take(PER_PART)
        profile.enable()
        for installation_id in profiled:
            refresh_installation(installation_id)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top)
    finally:
        bench.reset()
        bench.server.stop()

    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    report(parts, counts, throughput, {} if args.write_baseline else baseline)
    print(text.getvalue())
    out = BASELINE if args.write_baseline else PROFILE
    result = {
        "parts": parts,
        "statements": counts,
        "throughput": throughput,
        "cprofile_tottime": text.getvalue(),
    }
    if baseline and not args.write_baseline:
        result["baseline"] = {k: baseline.get(k) for k in ("parts", "statements", "throughput")}
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def report(
    parts: dict[str, dict[str, float]],
    counts: dict[str, list[str]],
    throughput: dict[str, dict[str, float]],
    baseline: dict[str, Any],
) -> None:
    def was(section: str, key: str, field: str) -> str:
        value = (baseline.get(section) or {}).get(key, {})
        value = value.get(field) if isinstance(value, dict) else None
        return f" (was {value:7.3f})" if isinstance(value, float | int) else ""

    print("part                                           CPU ms/call          wall ms/call")
    for name, value in parts.items():
        print(
            f"{name:45} {value['cpu_ms']:7.3f}{was('parts', name, 'cpu_ms')}"
            f"   {value['wall_ms']:7.3f}{was('parts', name, 'wall_ms')}"
        )
    print()
    for name, sql in counts.items():
        before = (baseline.get("statements") or {}).get(name)
        print(
            f"statements per refresh, {name}: {len(sql)}"
            + (f" (was {len(before)})" if before is not None else "")
        )
        for line in sql:
            print(f"    {line}")
    print()
    for name, value in throughput.items():
        print(
            f"throughput, {name}: ours {value['ours_per_s']}/s, floor {value['floor_per_s']}/s, "
            f"ratio {value['ratio']}" + was("throughput", name, "ratio")
        )
    print()


if __name__ == "__main__":
    sys.exit(main())
