from django.conf import settings
from django.db import migrations


def seed(apps, schema_editor):
    Exchange = apps.get_model("exchanges", "Exchange")
    for kind, base_url in settings.PRICEHUB_SEED_VENUES.items():
        Exchange.objects.get_or_create(name=kind, defaults={"kind": kind, "base_url": base_url})


class Migration(migrations.Migration):
    dependencies = [("exchanges", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
