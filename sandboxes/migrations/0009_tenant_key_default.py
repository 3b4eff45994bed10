"""Tenant keys get a generated default, and any row that was written without a valid
key (through the Django admin before it went through the services) gets a fresh one."""

from django.db import migrations, models

import routing.keys


def repair_tenant_keys(apps, schema_editor):  # noqa: ANN001, ANN201 - migration signature
    Tenant = apps.get_model("sandboxes", "Tenant")
    for tenant in Tenant.objects.only("pk", "tenant_key").iterator():
        if not routing.keys.is_valid_routing_key(tenant.tenant_key):
            tenant.tenant_key = routing.keys.generate_routing_key()
            tenant.save(update_fields=["tenant_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("sandboxes", "0008_catalog_discovery"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tenant",
            name="tenant_key",
            field=models.CharField(
                default=routing.keys.generate_routing_key,
                editable=False,
                max_length=64,
                unique=True,
            ),
        ),
        migrations.RunPython(repair_tenant_keys, migrations.RunPython.noop),
    ]
