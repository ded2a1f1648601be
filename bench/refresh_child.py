"""Refreshes on N threads in a process of their own: ours or the floor, measured alike.

``python bench/refresh_child.py CONFIG.json`` (written by bench/run.py). The config:

``mode``     ``"ours"``: ``refresh_installation_token(installation_id)`` (the Celery task's
             function called directly: no broker, no worker); ``"floor"``: a bare
             requests-oauthlib ``OAuth2Session(client_id).refresh_token(url, …)`` per
             item (a new session each time, client id and secret in the body), no database
``threads``  threads, each pulling the next item from one shared list
``items``    ours: installation ids; floor: ``[token_url, refresh_token]`` pairs
``warm``     one item per thread, run before the clock starts (a database connection
             and the code paths warmed on each thread)
``client_id`` / ``client_secret`` / ``extra``  the floor's credentials and extra body fields

With ``BENCH_PROFILE=PATH`` in the environment, each thread's timed loop runs under
cProfile and the stats of all threads are written to ``PATH`` (a ``pstats`` file).

Prints one JSON line: ``seconds`` (wall, from the barrier to the last thread done),
``ok``, ``cpu_seconds`` (this process), and for ``ours`` the SQL statements sent:
``statements``, ``reads`` (SELECT) and ``writes`` (UPDATE/INSERT/DELETE), counted by a
``connection.execute_wrapper`` on every thread.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def floor_refresh(config: dict[str, Any]) -> Callable[[Any], bool]:
    from requests_oauthlib import OAuth2Session

    def refresh(item: list[str]) -> bool:
        token_url, refresh_token = item
        session = OAuth2Session(client_id=config["client_id"])
        try:
            token = session.refresh_token(
                token_url,
                refresh_token=refresh_token,
                client_id=config["client_id"],
                client_secret=config["client_secret"],
                timeout=10,
                **config.get("extra", {}),
            )
        except Exception:
            return False
        finally:
            session.close()
        return bool(token.get("access_token"))

    return refresh


def ours_refresh() -> Callable[[Any], bool]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django_helpdesk_oauth.tasks import refresh_installation_token

    def refresh(installation_id: int) -> bool:
        return refresh_installation_token(installation_id) == "refreshed"

    return refresh


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    ours = config["mode"] == "ours"
    refresh = ours_refresh() if ours else floor_refresh(config)
    threads = config["threads"]
    items = config["items"]
    position = iter(range(len(items)))
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    done = threading.Barrier(threads + 1)
    results: list[bool] = []
    kinds: Counter[str] = Counter()
    profiles: list[cProfile.Profile] = []

    def work(warm: Any) -> None:
        mine: list[bool] = []
        counted: Counter[str] = Counter()  # this thread's statements, by first word

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            counted[sql.lstrip().split(None, 1)[0].upper()] += 1
            return execute(sql, params, many, context)

        wrapper: Any = None
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        try:
            if not refresh(warm):
                barrier.abort()  # the main thread then fails instead of waiting
                done.abort()
                raise RuntimeError(f"the warm-up refresh of {warm!r} failed")
            if ours:
                from django.db import connection

                wrapper = connection.execute_wrapper(count)
                wrapper.__enter__()
            barrier.wait()
            if profiler is not None:
                profiler.enable()
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    break
                mine.append(refresh(items[index]))
            if profiler is not None:
                profiler.disable()
                with lock:
                    profiles.append(profiler)
        finally:
            if wrapper is not None:
                wrapper.__exit__(None, None, None)
            with lock:
                results.extend(mine)
                kinds.update(counted)
            if ours:
                from django.db import connection

                connection.close()
            if not done.broken:
                done.wait()

    workers = [threading.Thread(target=work, args=(w,)) for w in config["warm"][:threads]]
    for worker in workers:
        worker.start()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    started = time.perf_counter()
    done.wait()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    for worker in workers:
        worker.join()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    out: dict[str, Any] = {"seconds": seconds, "ok": sum(results), "cpu_seconds": cpu}
    if ours:
        writes = sum(kinds[k] for k in ("UPDATE", "INSERT", "DELETE"))
        out.update(statements=sum(kinds.values()), reads=kinds["SELECT"], writes=writes)
        out["statement_kinds"] = dict(kinds)
    if profiles:
        stats = pstats.Stats(profiles[0])
        for more in profiles[1:]:
            stats.add(more)
        stats.dump_stats(os.environ["BENCH_PROFILE"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
