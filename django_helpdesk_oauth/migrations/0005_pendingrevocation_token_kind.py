"""PendingRevocation.token_kind: which token a queued revocation holds.

Rows queued before it hold refresh tokens (the only kind revoked then): the default.
"""

from django.db import migrations, models

import django_helpdesk_oauth.fields


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk_oauth", "0004_token_lifetime"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pendingrevocation",
            name="token",
            field=django_helpdesk_oauth.fields.EncryptedTextField(
                help_text="The token to revoke; encrypted.", verbose_name="token"
            ),
        ),
        migrations.AddField(
            model_name="pendingrevocation",
            name="token_kind",
            field=models.CharField(
                choices=[("refresh_token", "refresh token"), ("access_token", "access token")],
                default="refresh_token",
                help_text="Which token is to be revoked (the provider's revocation strategy).",
                max_length=13,
                verbose_name="token kind",
            ),
        ),
    ]
