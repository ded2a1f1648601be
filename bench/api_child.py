"""``installation.api_session()`` against a plain ``requests.Session`` with a fixed header.

Run by bench/run.py in its own process (so the client never shares the sandbox
server's interpreter): ``python bench/api_child.py INSTALLATION_ID CALLS``.
Both clients alternate in blocks of 100 GETs of the same sandbox endpoint.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

import requests  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_helpdesk_oauth.models import Installation, Token  # noqa: E402

BLOCK = 100
PATH = "users/current"


def main() -> None:
    installation = Installation.objects.get(pk=int(sys.argv[1]))
    calls = int(sys.argv[2])
    token = Token.objects.get(installation=installation).access_token
    ours = installation.api_session()
    plain = requests.Session()
    plain.headers["Authorization"] = f"Bearer {token}"
    url = installation.api_base_url + PATH
    for _ in range(20):  # warm both
        assert ours.get(PATH).status_code == 200
        assert plain.get(url, timeout=10).status_code == 200
    times = {"ours": 0.0, "plain": 0.0}
    queries = 0
    for block in range(calls // BLOCK):
        order = ("ours", "plain") if block % 2 == 0 else ("plain", "ours")
        for who in order:
            started = time.perf_counter()
            if who == "ours":
                with CaptureQueriesContext(connection) as captured:
                    for _ in range(BLOCK):
                        ours.get(PATH).raise_for_status()
                queries += len(captured.captured_queries)
            else:
                for _ in range(BLOCK):
                    plain.get(url, timeout=10).raise_for_status()
            times[who] += time.perf_counter() - started
    done = calls // BLOCK * BLOCK
    print(
        json.dumps(
            {
                "calls": done,
                "ours_seconds": times["ours"],
                "plain_seconds": times["plain"],
                "queries": queries,
            }
        )
    )


if __name__ == "__main__":
    main()
