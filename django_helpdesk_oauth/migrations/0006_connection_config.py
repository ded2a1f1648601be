"""connection_config (per-installation hosts, e.g. the region) on installations, pending
authorization requests and queued revocations; a blank AuthorizationRequest.tenant for
providers that name the tenant only after the code exchange.

Existing rows get ``{}``: Gorgias and Kustomer use no placeholder besides ``{tenant}``.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk_oauth", "0005_pendingrevocation_token_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="authorizationrequest",
            name="connection_config",
            field=models.JSONField(blank=True, default=dict, verbose_name="connection config"),
        ),
        migrations.AddField(
            model_name="installation",
            name="connection_config",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text=(
                    "Non-secret per-installation values the provider's endpoint templates "
                    'use, e.g. {"region": "eu"}; checked against the provider\'s allow-list '
                    "before use."
                ),
                verbose_name="connection config",
            ),
        ),
        migrations.AddField(
            model_name="pendingrevocation",
            name="connection_config",
            field=models.JSONField(blank=True, default=dict, verbose_name="connection config"),
        ),
        migrations.AlterField(
            model_name="authorizationrequest",
            name="tenant",
            field=models.CharField(blank=True, max_length=63, verbose_name="tenant"),
        ),
    ]
