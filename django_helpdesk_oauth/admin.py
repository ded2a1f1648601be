"""Admin: provider apps (write-only secrets, rotation) and installations (health, actions).

Thin over :mod:`.services`. No page renders a secret or a token: secrets are
write-only form fields, and only their last four characters are displayed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from . import services
from .exceptions import DecryptionError, InvalidAppInput
from .fields import is_readable, masked_value
from .humanize import expires_in
from .models import Installation, PendingRevocation, ProviderApp, Token
from .reporting import sensitive_oauth_view
from .services import links
from .services.bulk import RefreshSummary
from .services.creds import credential_health
from .services.secrets import (
    SecretRotationError,
    create_app,
    rotate_via_provider,
    set_client_secret,
)
from .services.uninstall import delete_installation


class SecretInput(forms.PasswordInput):
    """A password box that never renders its value back."""

    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class ProviderAppForm(forms.ModelForm):
    """Create form: the secret is typed once. Validating it creates the app through
    :func:`.services.secrets.create_app`, the path ``helpdesk_oauth_register_app`` takes
    too, so the two check the same things and write nothing on failure; its errors are
    shown on the form. The change form has no secret field at all (rotate it with the
    "Rotate client secret" tool)."""

    class Meta:
        model = ProviderApp
        fields = ["slug", "provider", "name", "client_id", "client_secret", "scopes", "enabled"]
        widgets = {"client_secret": SecretInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The service says what is missing, in the words the command uses too.
        for name in ("client_id", "client_secret"):
            self.fields[name].required = False

    @sensitive_variables()
    def _post_clean(self) -> None:
        # Instead of ModelForm's own model validation: the service validates everything
        # (the model's full_clean included), then saves in one step.
        if self.errors:
            return
        data = self.cleaned_data
        try:
            self.instance = create_app(
                provider_key=data["provider"],
                slug=data["slug"],
                client_id=data["client_id"],
                client_secret=data["client_secret"],
                name=data["name"],
                scopes=data["scopes"],
                enabled=data["enabled"],
            )
        except InvalidAppInput as exc:
            for field, problems in exc.errors.items():
                self.add_error(field if field in self.fields else None, problems)
        except SecretRotationError as exc:
            self.add_error(None, str(exc))


class ProviderAppChangeForm(forms.ModelForm):
    class Meta:
        model = ProviderApp
        fields = ["name", "client_id", "scopes", "enabled", "provider_app_name"]


class RotateWithApiForm(forms.Form):
    """Providers with a secret-rotation API: an admin API key, used once to generate a new
    secret; never stored. The provider's :attr:`~.providers.Provider.api_key_hint` says
    what the key must be allowed to do."""

    api_key = forms.CharField(
        label=_("Admin API key"),
        widget=SecretInput(),
        help_text=_("Used once, not stored."),
    )

    def __init__(self, *args: Any, hint: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hint:
            self.fields["api_key"].help_text = f"{hint} {self.fields['api_key'].help_text}"


class PasteSecretForm(forms.Form):
    """Providers without a rotation API: paste the secret regenerated in their portal."""

    new_secret = forms.CharField(
        label=_("New client secret"),
        widget=SecretInput(),
        help_text=_("Regenerate it in the provider's developer portal, then paste it here."),
    )


@admin.register(ProviderApp)
class ProviderAppAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "provider",
        "name",
        "client_id",
        "secret",
        "secret_rotated_at",
        "enabled",
        "credentials",
    ]
    list_filter = ["provider", "enabled"]
    search_fields = ["slug", "name", "client_id"]
    readonly_fields = [
        "provider",
        "slug",
        "credentials",
        "secret",
        "secret_rotated_at",
        "last_error",
        "last_error_at",
    ]
    actions = ["rotate_secret_action"]
    change_form_template = "admin/helpdesk_oauth/providerapp/change_form.html"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        kwargs["form"] = ProviderAppChangeForm if obj is not None else ProviderAppForm
        form = super().get_form(request, obj, change=change, **kwargs)
        hint = obj.provider_spec.provider_app_name_hint if obj is not None else ""
        if hint and "provider_app_name" in form.base_fields:
            # The class is built per request: this changes no other page's field.
            field = form.base_fields["provider_app_name"]
            field.help_text = f"{field.help_text} {hint}"
        return form

    def save_model(self, request: HttpRequest, obj: ProviderApp, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        # A new app was saved by the create-app service while the form was validated.

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ProviderAppForm.Meta.fields
        return [
            "slug",
            "provider",
            "credentials",
            *ProviderAppChangeForm.Meta.fields,
            "secret",
            "secret_rotated_at",
            "last_error",
            "last_error_at",
        ]

    @admin.display(description=_("client secret"))
    def secret(self, obj: ProviderApp) -> str:
        if not is_readable(obj, "client_secret"):
            # A wrong or missing encryption key: point staff at the tool that replaces it.
            url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[obj.pk])
            return format_html(
                '<strong>{}</strong> (<a href="{}">{}</a>)',
                obj.client_secret_hint,
                url,
                _("rotate client secret"),
            )
        return obj.client_secret_hint

    @admin.display(description=_("credentials"))
    def credentials(self, obj: ProviderApp) -> str:
        """The app's recorded credential problem (:func:`.services.creds.credential_health`):
        "OK", the previous secret standing in for a rejected current one, or the error."""
        health = credential_health(obj)
        if health.ok:
            return format_html('<span style="color:#1a7f37">{}</span>', _("OK"))
        if health.fallback_until is not None:
            return format_html(
                '<strong style="color:#bf8700">{}</strong><br>{}',
                _("previous secret in use until %(until)s")
                % {"until": health.fallback_until.strftime("%Y-%m-%d %H:%M %Z")},
                health.last_error,
            )
        return format_html('<strong style="color:#cf222e">{}</strong>', health.last_error)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        app = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if app is not None:
            # What to give the provider, on REDIRECT_BASE_URL or this request's origin.
            try:
                context["provider_links"] = [
                    (_("Redirect URI"), links.redirect_uri(app.slug, request)),
                    (_("Install URL"), links.install_url(app.slug, request)),
                ]
            except NoReverseMatch:
                context["provider_links_missing"] = links.INCLUDE_URLS
        return self.changeform_view(request, object_id, form_url, context)

    # The create form posts the client secret: keep it out of error reports.
    @sensitive_variables()
    @method_decorator(sensitive_post_parameters("client_secret", "new_secret"))
    @method_decorator(sensitive_oauth_view)
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    def get_urls(self) -> list[Any]:
        rotate = self.admin_site.admin_view(self.rotate_secret_view)
        return [
            path("<int:pk>/rotate-secret/", rotate, name="helpdesk_oauth_providerapp_rotate"),
            *super().get_urls(),
        ]

    @admin.action(description=_("Rotate client secret"))
    def rotate_secret_action(self, request: HttpRequest, queryset: QuerySet[ProviderApp]) -> Any:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one app to rotate."), messages.WARNING)
            return None
        url = reverse("admin:helpdesk_oauth_providerapp_rotate", args=[queryset.get().pk])
        return HttpResponseRedirect(url)

    @sensitive_variables()
    @method_decorator(sensitive_post_parameters("api_key", "new_secret"))
    @method_decorator(sensitive_oauth_view)
    def rotate_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        app = get_object_or_404(ProviderApp, pk=pk)
        if not self.has_change_permission(request, app):
            raise PermissionDenied
        via_api = app.provider_spec.supports_secret_rotation
        form: forms.Form
        if via_api:
            form = RotateWithApiForm(request.POST or None, hint=app.provider_spec.api_key_hint)
        else:
            form = PasteSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor = request.user.get_username()
            try:
                if via_api:
                    app = rotate_via_provider(app, form.cleaned_data["api_key"], actor=actor)
                else:
                    app = set_client_secret(app, form.cleaned_data["new_secret"], actor=actor)
            except SecretRotationError as exc:
                form.add_error(None, str(exc))
            else:
                self.log_change(request, app, [{"changed": {"fields": ["client secret"]}}])
                self.message_user(
                    request,
                    _("Client secret rotated; the new one ends in %(tail)s.")
                    % {"tail": app.client_secret_hint},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:helpdesk_oauth_providerapp_change", args=[app.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": app,
            "title": _("Rotate client secret of %(app)s") % {"app": app},
            "form": form,
            "via_api": via_api,
            "provider": app.provider_spec,
            "current": app.client_secret_hint,
        }
        return render(request, "admin/helpdesk_oauth/providerapp/rotate_secret.html", context)


class TokenInline(admin.StackedInline):
    """The token's bookkeeping, read-only; the token values only as masked tails."""

    model = Token
    can_delete = False
    extra = 0
    max_num = 0
    fields = (
        "access",
        "refresh",
        "token_type",
        "scope",
        "expires_at",
        "lifetime",
        "last_refreshed_at",
        "refresh_count",
    )
    readonly_fields = fields

    @admin.display(description=_("access token"))
    def access(self, obj: Token) -> str:
        return masked_value(obj, "access_token")

    @admin.display(description=_("refresh token"))
    def refresh(self, obj: Token) -> str:
        return masked_value(obj, "refresh_token")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # read-only: no Save buttons on the installation's page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the token goes with its installation (uninstall or delete)


STATUS_COLOURS = {"active": "#1a7f37", "needs_reauth": "#bf8700", "uninstalled": "#6e7781"}


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "app",
        "status_badge",
        "expires",
        "last_refresh",
        "refresh_failures",
        "last_error",
    ]
    list_filter = ["app", "status"]
    search_fields = ["tenant"]
    list_select_related = ["app", "token"]
    readonly_fields = [
        "app",
        "tenant",
        "status",
        "installed_by",
        "installed_at",
        "uninstalled_at",
        "last_error",
        "last_error_at",
        "refresh_failures",
    ]
    fields = tuple(readonly_fields)
    inlines = [TokenInline]
    actions = ["refresh_now", "uninstall_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # installations come from the OAuth flow only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change page is read-only (no Save buttons, a POST is refused); the list's
        # actions (refresh, uninstall), which ask without an object, keep the permission.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Installation) -> str:
        colour = STATUS_COLOURS.get(obj.status, "#6e7781")
        return format_html(
            '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px">{}</span>',
            colour,
            obj.get_status_display(),
        )

    @admin.display(description=_("expires"))
    def expires(self, obj: Installation) -> str:
        token = getattr(obj, "token", None)
        # expires_in(None) is "never expires" (expires_at NULL).
        return expires_in(token.expires_at) if token else "—"

    @admin.display(description=_("last refresh"))
    def last_refresh(self, obj: Installation) -> Any:
        token = getattr(obj, "token", None)
        return token.last_refreshed_at if token and token.last_refreshed_at else "—"

    def delete_model(self, request: HttpRequest, obj: Installation) -> None:
        # The refresh token would stay live at the provider: revoke it like an uninstall.
        delete_installation(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Installation]) -> None:
        # One by one (not queryset.delete()) so each refresh token is revoked.
        for installation in queryset:
            delete_installation(installation)

    @admin.action(description=_("Refresh token now"), permissions=["change"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Installation]) -> None:
        # Forced, as the command without --due-only; failure reasons are on each
        # installation's last error.
        summary = services.refresh_many(queryset)
        self._report_app_problems(request, summary)
        counts = {key: summary.counts[key] for key in ("refreshed", "fresh", "skipped", "failed")}
        n = counts["refreshed"]
        self.message_user(
            request,
            ngettext("%(n)d token refreshed.", "%(n)d tokens refreshed.", n) % {"n": n}
            + (
                " " + _("%(fresh)d already fresh, %(skipped)d skipped, %(failed)d failed.") % counts
                if counts["fresh"] or counts["skipped"] or counts["failed"]
                else ""
            ),
            messages.WARNING if counts["failed"] else messages.SUCCESS,
        )

    def _report_app_problems(self, request: HttpRequest, summary: RefreshSummary) -> None:
        for slug, health in summary.app_problems.items():
            self.message_user(
                request,
                _("Provider app %(slug)s: %(error)s") % {"slug": slug, "error": health.last_error},
                messages.ERROR,
            )

    # Delete permission, as the uninstall URL's default hook (views.can_uninstall): the
    # revocation cannot be undone, so a confirmation page comes first (as delete_selected:
    # the confirmed POST carries post=yes).
    @admin.action(description=_("Uninstall (revoke at the provider)"), permissions=["delete"])
    def uninstall_selected(
        self, request: HttpRequest, queryset: QuerySet[Installation]
    ) -> TemplateResponse | None:
        if request.POST.get("post") != "yes":
            selected = list(queryset.select_related("app").order_by("pk"))
            context = {
                **self.admin_site.each_context(request),
                "title": _("Uninstall installations?"),
                "opts": self.model._meta,
                "queryset": selected,
                "to_uninstall": [i for i in selected if i.status != "uninstalled"],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(
                request,
                "admin/helpdesk_oauth/installation/uninstall_selected_confirmation.html",
                context,
            )
        done = revoked = 0
        for installation in queryset:
            try:
                result = services.uninstall(installation)
            except DecryptionError:
                # Its refresh token cannot be decrypted (wrong key): left as it was.
                self.message_user(
                    request,
                    _(
                        "%(installation)s was not uninstalled: its token cannot be decrypted "
                        "with the configured encryption keys."
                    )
                    % {"installation": installation},
                    messages.ERROR,
                )
                continue
            if not result.already:
                done += 1
                revoked += result.revoked
                self.log_change(request, installation, "Uninstalled")
        self.message_user(
            request,
            ngettext(
                "%(n)d installation uninstalled (%(revoked)d revoked at the provider).",
                "%(n)d installations uninstalled (%(revoked)d revoked at the provider).",
                done,
            )
            % {"n": done, "revoked": revoked},
            messages.SUCCESS,
        )
        return None


@admin.register(PendingRevocation)
class PendingRevocationAdmin(admin.ModelAdmin):
    """Revocations still being retried after uninstalls (read-only)."""

    list_display = ["tenant", "app", "attempts", "next_attempt_at", "last_error", "created_at"]
    list_filter = ["app"]
    fields = ("app", "tenant", "attempts", "next_attempt_at", "last_error", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
