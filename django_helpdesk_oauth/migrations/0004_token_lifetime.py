# Hand-written. Token lifetime as one concept (issue 10): expires_at NULL is a token that
# never expires (never due); lifetime is the lifetime the provider granted, recorded when
# the token is stored, and caps the refresh margin at half of it.

from django.db import migrations, models
from django.db.models import F


def record_granted_lifetimes(apps, schema_editor):
    """Existing rows: expires_at and issued_at were both set when the token was stored,
    so their difference is the lifetime granted. A row where it is not positive (a
    salvaged install stored due now) keeps NULL: "unknown", which means REFRESH_MARGIN."""
    Token = apps.get_model("helpdesk_oauth", "Token")
    db = schema_editor.connection.alias
    Token.objects.using(db).filter(expires_at__gt=F("issued_at")).update(
        lifetime=F("expires_at") - F("issued_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk_oauth", "0003_authorizationrequest_drop_consumed_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="token",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text=(
                    "When the access token expires (from the answer's expires_at, expires_in, "
                    "the JWT exp, or the provider's documented lifetime); empty: it never "
                    "expires. Set it to now to have the token refreshed."
                ),
                null=True,
                verbose_name="expires at",
            ),
        ),
        migrations.AddField(
            model_name="token",
            name="lifetime",
            field=models.DurationField(
                blank=True,
                help_text=(
                    "The lifetime the provider granted this access token, recorded when it "
                    "was stored; caps the refresh margin at half of it. Empty: unknown or "
                    "never expires."
                ),
                null=True,
                verbose_name="lifetime",
            ),
        ),
        migrations.RunPython(record_granted_lifetimes, migrations.RunPython.noop, elidable=True),
    ]
