from django.conf import settings
from django.db import migrations

# The venues added after the first three; a new database has them from 0002 already.
ADDED = ("okx", "bybit", "bitstamp")


def seed(apps, schema_editor):
    Exchange = apps.get_model("exchanges", "Exchange")
    for kind in ADDED:
        base_url = settings.PRICEHUB_SEED_VENUES[kind]
        Exchange.objects.get_or_create(name=kind, defaults={"kind": kind, "base_url": base_url})


class Migration(migrations.Migration):
    dependencies = [("exchanges", "0005_exchange_kind_six_venues")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
