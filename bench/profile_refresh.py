"""Where a refresh's time goes: ``python bench/profile_refresh.py [--top N]``.

One thread, no Celery, the sandbox served by a :class:`SandboxServer` thread in
this process: the client-side CPU (``time.thread_time``, this thread only) and
wall time of each part of ``refresh_installation`` next to the bare
requests-oauthlib refresh, then a cProfile of 200 refreshes sorted by own time.
Writes ``bench/profile.json``.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def per_call(fn, items) -> dict[str, float]:
    cpu, wall = time.thread_time(), time.perf_counter()
    for item in items:
        fn(item)
    n = len(items)
    return {
        "cpu_ms": round((time.thread_time() - cpu) / n * 1000, 3),
        "wall_ms": round((time.perf_counter() - wall) / n * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    from bench.run import Bench

    class Args:
        quick = True

    bench = Bench(Args())
    from requests_oauthlib import OAuth2Session

    from bench import harness
    from django_helpdesk_oauth import client
    from django_helpdesk_oauth.fields import EncryptedTextField
    from django_helpdesk_oauth.models import Token
    from django_helpdesk_oauth.services import refresh_installation
    from django_helpdesk_oauth.services.creds import credentials
    from django_helpdesk_oauth.tasks import refresh_installation_token

    try:
        bench.reset()
        ids = harness.seed_kustomer(800)
        for installation_id in ids[:20]:  # warm-up
            refresh_installation(installation_id)
        parts: dict[str, dict[str, float]] = {}
        parts["refresh_installation (due)"] = per_call(refresh_installation, ids[20:220])
        parts["refresh_installation (not due)"] = per_call(refresh_installation, ids[20:220])
        parts["task.apply (not due)"] = per_call(
            lambda i: refresh_installation_token.apply(args=[i]), ids[20:220]
        )
        spare = {f"org{i}" for i in range(500, 800)}  # never refreshed through the package
        live = [t.token for t in bench.state.live_refresh_tokens("kustomer") if t.tenant in spare]
        url = f"{bench.sandbox}/kustomer/oauth/token"

        def floor(refresh_token: str) -> None:
            OAuth2Session(client_id=harness.KUSTOMER_CLIENT_ID).refresh_token(
                url,
                refresh_token=refresh_token,
                client_id=harness.KUSTOMER_CLIENT_ID,
                client_secret=harness.KUSTOMER_CLIENT_SECRET,
                timeout=10,
            )

        parts["floor: OAuth2Session.refresh_token"] = per_call(floor, live[:150])
        creds = credentials(harness.kustomer_app(), "org0")
        parts["client.refresh (our HTTP layer)"] = per_call(
            lambda rt: client.refresh(creds, refresh_token=rt), live[150:300]
        )
        parts["snapshot SELECT (select_related)"] = per_call(
            lambda i: list(
                Token.objects.select_related("installation__app").filter(installation_id=i)[:1]
            ),
            ids[:200],
        )
        parts["lease-style conditional UPDATE (no match)"] = per_call(
            lambda i: Token.objects.filter(installation_id=i, lease_owner="x").update(
                lease_owner=""
            ),
            ids[:200],
        )
        field = EncryptedTextField()
        cipher = field.get_prep_value("t" * 43)
        parts["decrypt one token"] = per_call(
            lambda _: field.from_db_value(cipher, None, None), range(500)
        )
        parts["encrypt one token"] = per_call(lambda _: field.get_prep_value("t" * 43), range(500))

        profile = cProfile.Profile()
        profile.enable()
        for installation_id in ids[300:500]:
            refresh_installation(installation_id)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top)
    finally:
        bench.reset()
        bench.server.stop()
    for name, value in parts.items():
        print(f"{name:45} cpu {value['cpu_ms']:7.3f} ms   wall {value['wall_ms']:7.3f} ms")
    print(text.getvalue())
    (ROOT / "bench" / "profile.json").write_text(
        json.dumps({"parts": parts, "cprofile_tottime": text.getvalue()}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
