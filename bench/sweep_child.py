"""One ``refresh_expiring_tokens()`` over the table as it is, in a fresh process.

``python bench/sweep_child.py``: runs the sweep three times for the wall time
(the dispatches go to a Redis queue nobody consumes; they are counted there
and purged), once more under tracemalloc for the Python peak, and reports the
process's peak RSS growth and the first page query's ``EXPLAIN (ANALYZE, BUFFERS)``.
"""

import itertools
import json
import os
import resource
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.celery_app import app  # noqa: E402
from django_helpdesk_oauth.tasks import due_installation_ids, refresh_expiring_tokens  # noqa: E402


def queue_length(client: redis.Redis) -> int:
    return client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)


def main() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    with app.connection_for_write() as conn:
        conn.ensure_connection()
    list(itertools.islice(due_installation_ids(), 1))  # connect, warm the plan cache
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, dispatched = [], []
    for _ in range(3):
        started = time.perf_counter()
        count = refresh_expiring_tokens()
        times.append(time.perf_counter() - started)
        dispatched.append((count, queue_length(client)))
        client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    with CaptureQueriesContext(connection) as captured:
        refresh_expiring_tokens()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    selects = [q["sql"] for q in captured.captured_queries if "ORDER BY" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + selects[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        later = selects[1] if len(selects) > 1 else selects[0]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + later)
        later_plan = "\n".join(row[0] for row in cursor.fetchall())
    print(
        json.dumps(
            {
                "seconds": sorted(times)[1],
                "all_seconds": times,
                "dispatched": dispatched,
                "queries": len(captured.captured_queries),
                "page_queries": len(selects),
                "rss_growth_mb": (rss_after - rss_before) / 1024,
                "peak_rss_mb": rss_after / 1024,
                "tracemalloc_peak_mb": peak / 2**20,
                "first_page_sql": selects[0],
                "explain_first_page": plan,
                "explain_next_page": later_plan,
            }
        )
    )


if __name__ == "__main__":
    main()
