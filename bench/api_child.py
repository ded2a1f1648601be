"""``installation.api_session()`` against a plain ``requests.Session`` with a fixed header.

Run by bench/run.py in its own process (so the client never shares the sandbox
server's interpreter): ``python bench/api_child.py INSTALLATION_ID CALLS``.
Five clients alternate (in a rotating order) in blocks of 100 GETs of the same
sandbox endpoint:

``ours`` / ``plain``                  one session built once and reused for every call
``ours_per_call`` / ``plain_per_call``  a session built for each call, as a view does
                                      (``installation.api_session().get(…)``)
``ours_per_call_ttl0``                the same with ``SESSION_TOKEN_TTL = 0`` (a read per
                                      call: what a session built per call cost before the
                                      process's token cache)

Prints one JSON line: ``calls`` per client, and per client its ``seconds`` and ``queries``.
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
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_helpdesk_oauth.conf import app_settings  # noqa: E402
from django_helpdesk_oauth.models import Installation, Token  # noqa: E402

BLOCK = 100
PATH = "users/current"
CLIENTS = ("ours", "plain", "ours_per_call", "plain_per_call", "ours_per_call_ttl0")


def set_ttl(seconds: int | None) -> None:
    """``SESSION_TOKEN_TTL`` for the calls that follow (``None``: the configured one)."""
    config = dict(settings.HELPDESK_OAUTH)
    if seconds is None:
        config.pop("SESSION_TOKEN_TTL", None)
    else:
        config["SESSION_TOKEN_TTL"] = seconds
    settings.HELPDESK_OAUTH = config
    app_settings.reload()


def main() -> None:
    # The installation as a view holds it: its app read with it (no query per call).
    installation = Installation.objects.select_related("app").get(pk=int(sys.argv[1]))
    calls = int(sys.argv[2])
    token = Token.objects.get(installation=installation).access_token
    url = installation.api_base_url + PATH
    ours = installation.api_session()
    plain = requests.Session()
    plain.headers["Authorization"] = f"Bearer {token}"

    def plain_per_call() -> requests.Response:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session.get(url, timeout=10)

    run = {
        "ours": lambda: ours.get(PATH),
        "plain": lambda: plain.get(url, timeout=10),
        "ours_per_call": lambda: installation.api_session().get(PATH),
        "plain_per_call": plain_per_call,
        "ours_per_call_ttl0": lambda: installation.api_session().get(PATH),
    }
    for who in CLIENTS:  # warm every client
        set_ttl(0 if who.endswith("ttl0") else None)
        for _ in range(20):
            assert run[who]().status_code == 200
    seconds = dict.fromkeys(CLIENTS, 0.0)
    queries = dict.fromkeys(CLIENTS, 0)
    blocks = calls // BLOCK
    for block in range(blocks):
        shift = block % len(CLIENTS)
        for who in CLIENTS[shift:] + CLIENTS[:shift]:
            set_ttl(0 if who.endswith("ttl0") else None)
            call = run[who]
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                for _ in range(BLOCK):
                    call().raise_for_status()
                seconds[who] += time.perf_counter() - started
            queries[who] += len(captured.captured_queries)
    print(json.dumps({"calls": blocks * BLOCK, "seconds": seconds, "queries": queries}))


if __name__ == "__main__":
    main()
