"""helpdesk_oauth_refresh: selectors, --due-only, --dry-run, failures, progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_helpdesk_oauth.models import Installation, Token
from django_helpdesk_oauth.services import uninstall
from tests.commands.conftest import assert_one_line_failure, manage

CMD = "helpdesk_oauth_refresh"
pytestmark = pytest.mark.django_db(transaction=True)


def tokens():
    """Every installation's (access token, refresh token, refresh count)."""
    return {
        t.installation_id: (t.access_token, t.refresh_token, t.refresh_count)
        for t in Token.objects.all()
    }


def refreshes(sandbox):
    return sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")


@pytest.fixture
def three(installed, gorgias_app, kustomer_app):
    """Two Gorgias installations and a Kustomer one, none of them due."""
    return [installed(gorgias_app), installed(gorgias_app, "globex"), installed(kustomer_app)]


def test_one_installation_is_refreshed_even_if_not_due(run, sandbox, three):
    before = tokens()
    output = run(CMD, "--installation", str(three[0].pk))
    after = tokens()
    assert after[three[0].pk][0] != before[three[0].pk][0]  # new access token
    assert after[three[0].pk][2] == before[three[0].pk][2] + 1
    assert {pk: after[pk] for pk in (three[1].pk, three[2].pk)} == {
        pk: before[pk] for pk in (three[1].pk, three[2].pk)
    }
    assert output.out.strip() == "refreshed 1, fresh 0, skipped 0, failed 0"
    assert output.err == ""  # no progress bar when stderr is not a terminal
    assert len(refreshes(sandbox)) == 1


def test_one_app(run, sandbox, three):
    before = tokens()
    output = run(CMD, "--app", "gorgias")
    after = tokens()
    assert [after[i.pk][2] for i in three] == [1, 1, 0]
    assert after[three[2].pk] == before[three[2].pk]  # the Kustomer one is untouched
    assert "refreshed 2," in output.out
    assert {r["tenant"] for r in refreshes(sandbox)} == {"acme", "globex"}


def test_all_with_a_small_batch_size(run, sandbox, three):
    output = run(CMD, "--all", "--batch-size", "2")
    assert "refreshed 3, fresh 0, skipped 0, failed 0" in output.out
    assert all(count == 1 for *_, count in tokens().values())
    assert len(refreshes(sandbox)) == 3


def test_due_only_refreshes_only_due_tokens(run, sandbox, three):
    Token.objects.filter(installation=three[1]).update(expires_at=timezone.now())
    before = tokens()
    output = run(CMD, "--all", "--due-only", "--batch-size", "1")
    after = tokens()
    assert after[three[1].pk][2] == 1
    assert after[three[0].pk] == before[three[0].pk] and after[three[2].pk] == before[three[2].pk]
    assert "refreshed 1, fresh 0, skipped 0, failed 0" in output.out
    assert [r["tenant"] for r in refreshes(sandbox)] == ["globex"]


def test_due_only_with_an_app_selector(run, sandbox, three):
    Token.objects.update(expires_at=timezone.now())
    output = run(CMD, "--app", "kustomer", "--due-only")
    assert "refreshed 1," in output.out
    assert tokens()[three[2].pk][2] == 1
    assert tokens()[three[0].pk][2] == 0


def test_dry_run_changes_nothing(run, sandbox, three):
    Token.objects.filter(installation=three[0]).update(
        expires_at=timezone.now() - timedelta(minutes=5, seconds=30)
    )
    before_rows = list(Token.objects.order_by("pk").values())
    output = run(CMD, "--all", "--dry-run")
    assert list(Token.objects.order_by("pk").values()) == before_rows
    assert refreshes(sandbox) == []
    assert f"would refresh installation {three[0].pk} (gorgias @ acme), expires expired 5m ago" in (
        output.out
    )
    assert f"installation {three[2].pk} (kustomer @ acme)" in output.out
    assert "would refresh 3, skipped 0; nothing changed." in output.out


def test_dry_run_due_only_lists_only_due_ones(run, sandbox, three):
    Token.objects.filter(installation=three[2]).update(expires_at=timezone.now())
    before = tokens()
    output = run(CMD, "--all", "--due-only", "--dry-run")
    assert tokens() == before and refreshes(sandbox) == []
    assert output.out.count("would refresh installation") == 1
    assert f"installation {three[2].pk} (kustomer @ acme)" in output.out


def test_failures_are_summarised_and_exit_non_zero(run, sandbox, three):
    sandbox.state.revoke_all("acme", "gorgias")
    message = run.error(CMD, "--all")
    assert "1 of the selected refreshes failed (invalid_grant 1)" in message
    assert "refreshed 2, fresh 0, skipped 0, failed 1 (invalid_grant 1)" in run.last.out
    assert f"installation {three[0].pk} (gorgias @ acme): failed (invalid_grant)" in run.last.err
    assert Installation.objects.get(pk=three[0].pk).status == "needs_reauth"
    assert Installation.objects.filter(status="active").count() == 2


def test_failure_output_leaks_nothing(run, sandbox, three):
    sandbox.state.inject("token", status=503, times=10)
    message = run.error(CMD, "--app", "gorgias")
    assert "2 of the selected refreshes failed (transient 2)" in message
    assert all(count == 0 for *_, count in tokens().values())
    assert Installation.objects.filter(status="active").count() == 3  # a 5xx marks nothing


def test_inactive_installations_are_skipped(run, sandbox, three):
    uninstall(three[0])
    Installation.objects.filter(pk=three[1].pk).update(status="needs_reauth")
    output = run(CMD, "--all", "-v", "2")
    assert "refreshed 1, fresh 0, skipped 2, failed 0" in output.out
    assert f"installation {three[0].pk} (gorgias @ acme): skipped (no token)" in output.out
    assert f"installation {three[1].pk} (gorgias @ globex): skipped (needs_reauth)" in output.out
    assert [r["provider"] for r in refreshes(sandbox)] == ["kustomer"]


def test_progress_bar_when_asked(run, sandbox, three):
    output = run(CMD, "--app", "kustomer", "--progress")
    assert "refreshed 1," in output.out
    assert "refresh [" in output.err and "] 1/1" in output.err
    assert output.err.endswith("\n")


def test_selector_is_required_and_exclusive(run, gorgias_app):
    assert "one of the arguments --all --installation --app is required" in run.error(CMD)
    assert "not allowed with argument" in run.error(CMD, "--all", "--app", "gorgias")


def test_unknown_installation_and_app(run, gorgias_app):
    assert "No installation with id 999999." in run.error(CMD, "--installation", "999999")
    assert "No provider app with slug 'nope'" in run.error(CMD, "--app", "nope")


def test_bad_input_exits_non_zero_with_one_line(gorgias_app):
    assert_one_line_failure(manage(CMD, "--installation", "999999"), "No installation with id")
    assert_one_line_failure(manage(CMD, "--app", "nope"), "No provider app with slug 'nope'")
