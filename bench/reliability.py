"""Long reliability runs: ``python bench/reliability.py [--only race,naive,…]``.

The full-size variants of tests/integration on PostgreSQL and Redis; writes
``bench/reliability.json`` and prints each result. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Bench  # noqa: E402

RUNS = ("race", "naive", "crash", "flapping", "fuzz", "leaks")
OUTPUT = ROOT / "bench" / "reliability.json"


def run_race(bench: Bench, naive: bool, reuse_detection: bool = False) -> dict[str, Any]:
    from bench import harness

    bench.reset()
    [installation_id] = harness.seed_kustomer(1)
    bench.state.token_delay = 0.05
    bench.state.reuse_detection = reuse_detection
    result = harness.race(
        bench.state,
        installation_id,
        processes=8,
        rounds=bench.args.rounds,
        naive=naive,
        sandbox_base=bench.sandbox,
        tenant="org0",
    )
    result["reuse_detection"] = reuse_detection
    return result


def run_crash(bench: Bench) -> dict[str, Any]:
    from bench import harness

    bench.reset()
    [installation_id] = harness.seed_kustomer(1, due=False)
    lease = 10
    env = bench.env(
        "redis", BENCH_REFRESH_LEASE=str(lease), BENCH_REFRESH_MARGIN="30", BENCH_HTTP_TIMEOUT="120"
    )
    try:
        return harness.crash(bench.state, installation_id, env, lease=lease, hold=90)
    finally:
        harness.purge_queue(env)


def run_flapping(bench: Bench) -> dict[str, Any]:
    from django.conf import settings

    from bench import harness
    from django_helpdesk_oauth.conf import app_settings

    bench.reset()
    timeout = 0.5
    saved = settings.HELPDESK_OAUTH
    settings.HELPDESK_OAUTH = {**saved, "HTTP_TIMEOUT": timeout}
    app_settings.reload()
    try:
        ids = harness.seed_kustomer(bench.args.flapping // 2)
        return harness.flapping(bench.state, ids, attempts=bench.args.flapping, timeout=timeout)
    finally:
        settings.HELPDESK_OAUTH = saved
        app_settings.reload()


def run_pytest(test: str, **env: str) -> dict[str, Any]:
    environment = {**os.environ, **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)  # pytest uses tests.settings
    environment.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hdo_reliability")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "command": f"DATABASE_URL={environment['DATABASE_URL']} "
        + " ".join(f"{k}={v}" for k, v in env.items())
        + f" pytest {test}",
        "passed": done.returncode == 0,
        "summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(RUNS))
    parser.add_argument("--rounds", type=int, default=100, help="race rounds (8 processes each)")
    parser.add_argument("--flapping", type=int, default=1000, help="token-endpoint outcomes")
    parser.add_argument("--fuzz-examples", type=int, default=5000)
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    args.quick = False
    selected = [r.strip() for r in args.only.split(",") if r.strip()]
    output = Path(args.output)
    results: dict[str, Any] = json.loads(output.read_text()) if output.exists() else {}
    results["command"] = "python bench/reliability.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    bench = Bench(args)
    try:
        for name in selected:
            print(f"== {name}", flush=True)
            if name == "race":
                results[name] = run_race(bench, naive=False)
            elif name == "naive":
                results[name] = run_race(bench, naive=True)
                results["naive_reuse_detection"] = run_race(bench, naive=True, reuse_detection=True)
            elif name == "crash":
                results[name] = run_crash(bench)
            elif name == "flapping":
                results[name] = run_flapping(bench)
            elif name == "fuzz":
                results[name] = run_pytest(
                    "tests/integration/test_fuzz.py",
                    HELPDESK_OAUTH_FUZZ_EXAMPLES=str(args.fuzz_examples),
                )
            elif name == "leaks":
                results[name] = run_pytest("tests/integration/test_leak_scan.py")
            print(json.dumps(results[name], indent=1, default=str)[:3000], flush=True)
    finally:
        bench.reset()
        bench.server.stop()
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
