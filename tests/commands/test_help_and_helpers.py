"""Every command documents itself; the shared formatting, input and progress helpers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError, OutputWrapper

from django_helpdesk_oauth.management.formatting import ago, duration, expires_in, table
from django_helpdesk_oauth.management.inputs import read_secret
from django_helpdesk_oauth.management.progress import ProgressBar
from django_helpdesk_oauth.providers import registry
from tests.commands.conftest import assert_no_secrets

HELP = {
    "helpdesk_oauth_register_app": (
        "--provider",
        # Every registered provider is a choice (argparse may wrap the list).
        *registry,
        "--client-secret-file PATH",
        "--register NAME",
        "--api-key-file PATH",
    ),
    "helpdesk_oauth_rotate_secret": ("SLUG", "--api-key-file PATH", "--secret-file PATH"),
    "helpdesk_oauth_refresh": (
        "--all",
        "--installation ID",
        "--app SLUG",
        "--due-only",
        "--dry-run",
    ),
    "helpdesk_oauth_status": ("--app SLUG", "--json"),
    "helpdesk_oauth_uninstall": ("ID", "--no-revoke"),
    "helpdesk_oauth_rekey": ("--batch-size N", "--model LABEL", "--start-after PK"),
}


def test_exactly_these_commands_are_registered():
    ours = {name for name, app in get_commands().items() if app == "django_helpdesk_oauth"}
    assert ours == set(HELP)


@pytest.mark.parametrize(("name", "fragments"), HELP.items())
def test_help(name, fragments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(name, "--help")
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: ") and name in text
    for fragment in fragments:
        assert fragment in text


def test_duration_and_expiry():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert duration(86340) == "23h 59m"
    assert duration(90061) == "1d 1h"
    assert duration(300) == "5m" and duration(42) == "42s"
    assert expires_in(now + timedelta(hours=23, minutes=59, seconds=30), now) == "23h 59m"
    assert expires_in(now - timedelta(minutes=5, seconds=10), now) == "expired 5m ago"
    assert expires_in(None, now) == "-"
    assert ago(now - timedelta(minutes=3), now) == "3m ago" and ago(None, now) == "never"


def test_table_aligns_columns():
    lines = table(("ID", "APP"), [(1, "gorgias"), (123, "k")])
    assert lines == ["ID   APP", "1    gorgias", "123  k"]


def test_progress_bar_only_on_a_tty_or_when_forced():
    quiet = io.StringIO()
    with ProgressBar(OutputWrapper(quiet), 3) as bar:
        bar.advance(3)
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    with ProgressBar(OutputWrapper(loud), 4, label="work", force=True) as bar:
        bar.advance(2)
        bar.advance(2)
    assert loud.getvalue().endswith("\rwork [" + "#" * 30 + "] 4/4\n")
    assert ProgressBar(io.StringIO(), None, label="n", force=True).render() == "n 0 done"


def test_read_secret(tmp_path, monkeypatch):
    path = tmp_path / "s"
    path.write_text("abc123\r\n")
    assert read_secret(str(path), what="client secret", option="--x") == "abc123"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert read_secret("-", what="client secret", option="--x") == "from-stdin"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CommandError, match="not UTF-8 text"):
        read_secret(str(path), what="client secret", option="--x")
    path.write_text("x" * 70000)
    with pytest.raises(CommandError, match="too large"):
        read_secret(str(path), what="client secret", option="--x")


def test_the_leak_assertion_catches_partial_leaks():
    secret = "abcdefghijklmnopqrstuvwxyz0123456789"
    assert_no_secrets("masked: ••••6789", {secret})
    with pytest.raises(AssertionError):
        assert_no_secrets(f"oops {secret[3:19]} there", {secret})
    with pytest.raises(AssertionError):
        assert_no_secrets(f"oops {secret}", {secret})
