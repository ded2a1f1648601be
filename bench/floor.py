"""The floor: a bare loop of requests-oauthlib ``OAuth2Session.refresh_token``, no database.

``python bench/floor.py CONFIG.json`` (written by bench/run.py): refreshes every
token in the config at the given concurrency, exactly as the package's client
does on the wire (a new ``OAuth2Session`` per refresh, client id and secret in
the form body), and prints one JSON line with the wall time and CPU time.
"""

import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from bench.refresh_child import floor_refresh


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)

    refresh_one = floor_refresh(config)  # the same client as bench/refresh_child.py's floor

    def refresh(refresh_token: str) -> bool:
        return refresh_one([config["token_url"], refresh_token])

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with ThreadPoolExecutor(config["concurrency"]) as pool:
        results = list(pool.map(refresh, config["tokens"]))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print(json.dumps({"seconds": seconds, "ok": sum(results), "cpu_seconds": cpu}))


if __name__ == "__main__":
    main()
