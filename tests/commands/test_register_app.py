"""helpdesk_oauth_register_app: pasted credentials, and Kustomer's apps API end to end."""

from __future__ import annotations

import pytest
from django.utils import timezone

from django_helpdesk_oauth import signals
from django_helpdesk_oauth.crypto import mask
from django_helpdesk_oauth.models import ProviderApp, Token
from django_helpdesk_oauth.services import refresh_installation
from tests.commands.conftest import ADMIN_KEY, WEAK_KEY, assert_one_line_failure, manage
from tests.conftest import GORGIAS_SECRET

CMD = "helpdesk_oauth_register_app"
SECRET = "pasted-client-secret-4242"


def gorgias_args(*extra: str) -> tuple[str, ...]:
    return ("--provider", "gorgias", "--slug", "shop", "--client-id", "gorgias-id-1", *extra)


@pytest.mark.django_db
def test_creates_an_app_from_a_secret_file(run, secret_file):
    run.remember(SECRET)
    output = run(
        CMD,
        *gorgias_args("--client-secret-file", secret_file(SECRET + "\n")),
        "--scopes",
        "openid  offline",
        "--name",
        "Shop",
    )
    app = ProviderApp.objects.get(slug="shop")
    assert (app.provider, app.client_id, app.client_secret) == ("gorgias", "gorgias-id-1", SECRET)
    assert (app.name, app.scopes) == ("Shop", "openid offline")
    assert "gorgias-id-1" in output.out
    assert mask(SECRET) in output.out and mask(SECRET).endswith("4242")
    assert "redirect URI:      /oauth/shop/callback/" in output.out
    assert "install URL:       /oauth/shop/install/" in output.out
    assert output.err == ""


@pytest.mark.django_db
@pytest.mark.parametrize("args", [(), ("--client-secret-file", "-")])
def test_reads_the_secret_from_piped_stdin(run, stdin, args):
    run.remember(SECRET)
    stdin(SECRET + "\n")
    run(CMD, *gorgias_args(*args))
    assert ProviderApp.objects.get(slug="shop").client_secret == SECRET


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "\n", "   \n"])
def test_refuses_an_empty_secret(run, stdin, text):
    stdin(text)
    assert "client secret from stdin is empty" in run.error(CMD, *gorgias_args())
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db
def test_only_one_trailing_newline_is_stripped(run, secret_file):
    message = run.error(CMD, *gorgias_args("--client-secret-file", secret_file(SECRET + "\n\n")))
    assert "contains whitespace" in message
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db
def test_refuses_an_unreadable_file(run, tmp_path):
    missing = tmp_path / "nope"
    message = run.error(CMD, *gorgias_args("--client-secret-file", str(missing)))
    assert f"--client-secret-file {missing}: cannot read the file" in message
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db
def test_refuses_a_duplicate_or_malformed_slug(run, secret_file, gorgias_app):
    path = secret_file(SECRET)
    args = ("--provider", "gorgias", "--client-id", "x", "--client-secret-file", path)
    assert "already exists" in run.error(CMD, "--slug", "gorgias", *args)
    assert "--slug: Enter a valid" in run.error(CMD, "--slug", "bad slug/", *args)
    assert list(ProviderApp.objects.values_list("slug", flat=True)) == ["gorgias"]


@pytest.mark.django_db
def test_refuses_an_unknown_provider(run):
    assert "invalid choice: 'nosuchdesk'" in run.error(
        CMD, "--provider", "nosuchdesk", "--slug", "z"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (("--client-id", "x"), "--client-id makes no sense with --register"),
        (("--name", "N"), "--name makes no sense with --register"),
        ((), "--register needs --api-key-file"),
    ],
)
def test_refuses_combinations_that_make_no_sense(run, extra, complaint):
    message = run.error(CMD, "--provider", "kustomer", "--slug", "k", "--register", "a", *extra)
    assert complaint in message
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db
def test_register_needs_a_provider_with_an_apps_api(run, secret_file):
    message = run.error(
        CMD,
        *("--provider", "gorgias", "--slug", "g", "--register", "a"),
        *("--api-key-file", secret_file(ADMIN_KEY)),
    )
    assert "Gorgias has no API to register apps" in message


@pytest.mark.django_db
def test_title_without_register_is_refused(run, secret_file):
    message = run.error(
        CMD, *gorgias_args("--title", "T", "--client-secret-file", secret_file(SECRET))
    )
    assert "--title only makes sense with --register" in message


@pytest.mark.django_db(transaction=True)
def test_registers_a_kustomer_private_app_and_installs_with_it(
    run, sandbox, installed, secret_file
):
    output = run(
        CMD,
        *("--provider", "kustomer", "--slug", "kus-private", "--register", "myoauthapp"),
        *("--title", "My OAuth App", "--api-key-file", secret_file(ADMIN_KEY + "\n")),
    )
    app = ProviderApp.objects.get(slug="kus-private")
    assert app.provider_app_name == "myoauthapp_5f0acme"  # namespaced with the org id
    assert app.name == "My OAuth App" and app.client_id
    assert sandbox.state.get_client("kustomer", app.client_id).client_secret == app.client_secret
    for shown in (
        "myoauthapp_5f0acme",
        app.client_id,
        mask(app.client_secret),
        "/oauth/kus-private/callback/",
    ):
        assert shown in output.out
    # The new credentials complete a real install.
    installation = installed(app)
    assert installation.status == "active"
    assert Token.objects.get(installation=installation).refresh_token
    [exchange] = sandbox.state.matching_requests(endpoint="token", client_id=app.client_id)
    assert exchange["status"] == 200


@pytest.mark.django_db(transaction=True)
def test_a_weak_api_key_creates_nothing(run, sandbox, secret_file):
    message = run.error(
        CMD,
        *("--provider", "kustomer", "--slug", "kus-private", "--register", "myoauthapp"),
        *("--api-key-file", secret_file(WEAK_KEY)),
    )
    assert "refused the API key (HTTP 403)" in message
    assert not ProviderApp.objects.exists()
    assert sandbox.state.kustomer_apps == {}


@pytest.mark.django_db(transaction=True)
def test_bad_input_exits_non_zero_with_one_line(tmp_path):
    result = manage(CMD, *gorgias_args("--client-secret-file", str(tmp_path / "missing")))
    assert_one_line_failure(result, "cannot read the file")
    result = manage(CMD, *gorgias_args(), stdin="")
    assert_one_line_failure(result, "client secret from stdin is empty")
    assert not ProviderApp.objects.exists()


# -- the package URLs, checked before anything is written ------------------------------

NO_URLS = "tests.commands.urls_without_package"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        gorgias_args("--client-secret-file", "SECRET"),
        ("--provider", "kustomer", "--slug", "k", "--register", "a", "--api-key-file", "KEY"),
    ],
    ids=["credentials", "register"],
)
def test_without_the_package_urls_nothing_is_written(run, secret_file, settings, args):
    files = {"SECRET": secret_file(SECRET), "KEY": secret_file(ADMIN_KEY)}
    settings.ROOT_URLCONF = NO_URLS
    message = run.error(CMD, *(files.get(arg, arg) for arg in args))
    assert 'include("django_helpdesk_oauth.urls")' in message and "ROOT_URLCONF" in message
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_without_the_package_urls_in_a_subprocess(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    result = manage(CMD, *gorgias_args("--client-secret-file", str(secret)), urlconf=NO_URLS)
    assert_one_line_failure(result, "django_helpdesk_oauth.urls", "ROOT_URLCONF")
    assert "NoReverseMatch" not in result.stderr
    assert not ProviderApp.objects.exists()


@pytest.mark.django_db
def test_absolute_urls_on_the_redirect_base_url(run, secret_file, settings):
    settings.HELPDESK_OAUTH = {
        **settings.HELPDESK_OAUTH,
        "REDIRECT_BASE_URL": "https://app.example",
    }
    output = run(CMD, *gorgias_args("--client-secret-file", secret_file(SECRET)))
    assert "redirect URI:      https://app.example/oauth/shop/callback/" in output.out
    assert "install URL:       https://app.example/oauth/shop/install/" in output.out


# -- display names -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "name"), [("gorgias", "Gorgias"), ("shop", "Gorgias (shop)")])
def test_the_display_name_defaults_to_the_providers(run, secret_file, slug, name):
    args = ("--provider", "gorgias", "--slug", slug, "--client-id", "c")
    output = run(CMD, *args, "--client-secret-file", secret_file(SECRET))
    assert ProviderApp.objects.get().name == name
    assert f"name:              {name}" in output.out


# -- an existing app: --update -------------------------------------------------------


@pytest.mark.django_db
def test_a_rerun_points_at_update(run, secret_file, gorgias_app):
    args = ("--provider", "gorgias", "--slug", "gorgias", "--client-id", "other")
    message = run.error(CMD, *args, "--client-secret-file", secret_file(SECRET))
    assert "already exists" in message and "--update" in message
    app = ProviderApp.objects.get()
    assert (app.client_id, app.client_secret) == ("gorgias-test-client", GORGIAS_SECRET)


@pytest.mark.django_db
def test_update_changes_the_fields_given(run, secret_file, gorgias_app):
    rotated = []

    def receiver(sender, app, **kwargs):
        rotated.append(app.slug)

    signals.client_secret_rotated.connect(receiver)
    try:
        output = run(
            CMD,
            *("--slug", "gorgias", "--update", "--client-id", "new-id", "--name", "Support"),
            *("--scopes", "openid  offline", "--client-secret-file", secret_file(SECRET + "\n")),
        )
    finally:
        signals.client_secret_rotated.disconnect(receiver)
    app = ProviderApp.objects.get()
    assert (app.client_id, app.name, app.scopes) == ("new-id", "Support", "openid offline")
    # A rotation: the previous secret is kept for the grace window.
    assert (app.client_secret, app.previous_client_secret) == (SECRET, GORGIAS_SECRET)
    assert app.secret_rotated_at is not None and rotated == ["gorgias"]
    assert (
        "Updated provider app 'gorgias' (gorgias): client id, name, scopes, client secret."
        in output.out
    )
    assert mask(SECRET) in output.out and mask(GORGIAS_SECRET) in output.out
    # Only what is given changes; an empty --name is the default name.
    run(CMD, "--slug", "gorgias", "--update", "--name", "")
    app = ProviderApp.objects.get()
    assert (app.name, app.client_id, app.scopes) == ("Gorgias", "new-id", "openid offline")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--slug", "nope"), "No provider app with slug 'nope' to update"),
        (("--slug", "gorgias"), "Nothing to change"),
        (("--slug", "gorgias", "--provider", "kustomer"), "its provider cannot change"),
        (("--slug", "gorgias", "--client-id", " "), "--client-id: The client ID is required"),
        (("--slug", "gorgias", "--register", "x"), "--register makes no sense with --update"),
        (("--slug", "gorgias", "--name", "x" * 101), "--name: Ensure this value has at most 100"),
        (
            ("--slug", "gorgias", "--name", "Renamed", "--client-secret-file", "SAME"),
            "same as the current one",
        ),
    ],
)
def test_bad_updates_change_nothing(run, secret_file, gorgias_app, args, complaint):
    args = tuple(secret_file(GORGIAS_SECRET) if arg == "SAME" else arg for arg in args)
    before = ProviderApp.objects.values().get()
    assert complaint in run.error(CMD, "--update", *args)
    assert ProviderApp.objects.values().get() == before


@pytest.mark.django_db(transaction=True)
def test_an_updated_secret_has_the_grace_window(run, sandbox, installed, gorgias_app, secret_file):
    """The provider does not know the new secret yet: refreshes use the previous one."""
    installation = installed(gorgias_app)
    run(CMD, "--slug", "gorgias", "--update", "--client-secret-file", secret_file(SECRET))
    Token.objects.update(expires_at=timezone.now())
    assert str(refresh_installation(installation.pk)) == "refreshed"
    statuses = [
        r["status"]
        for r in sandbox.state.matching_requests(endpoint="token", grant_type="refresh_token")
    ]
    assert statuses == [400, 200]
    assert ProviderApp.objects.get().last_error.startswith("The current client secret was rejected")
