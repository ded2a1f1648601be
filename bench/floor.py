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

from requests_oauthlib import OAuth2Session

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def main() -> None:
    with open(sys.argv[1]) as handle:
        config = json.load(handle)

    def refresh(refresh_token: str) -> bool:
        session = OAuth2Session(client_id=config["client_id"])
        try:
            token = session.refresh_token(
                config["token_url"],
                refresh_token=refresh_token,
                client_id=config["client_id"],
                client_secret=config["client_secret"],
                timeout=10,
            )
        except Exception:
            return False
        finally:
            session.close()
        return bool(token.get("access_token"))

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
