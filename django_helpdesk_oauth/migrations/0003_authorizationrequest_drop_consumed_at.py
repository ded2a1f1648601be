# Hand-written. AuthorizationRequest.consumed_at was never set: the callback deletes
# the row it claims, which is what makes a state single use.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk_oauth", "0002_authorizationrequest_browser_index"),
    ]

    operations = [
        migrations.RemoveField(model_name="authorizationrequest", name="consumed_at"),
    ]
