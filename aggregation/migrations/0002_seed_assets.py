from django.db import migrations

# The ten assets PriceHub starts with, most requested first.
ASSETS = [
    ("BTC", "hot"),
    ("ETH", "hot"),
    ("SOL", "hot"),
    ("BNB", "medium"),
    ("XRP", "medium"),
    ("DOGE", "medium"),
    ("ADA", "medium"),
    ("USDC", "cold"),
    ("TRX", "cold"),
    ("AVAX", "cold"),
]


def seed(apps, schema_editor):
    Asset = apps.get_model("aggregation", "Asset")
    for base, tier in ASSETS:
        Asset.objects.get_or_create(
            symbol=f"{base}USDT", defaults={"base": base, "quote": "USDT", "tier": tier}
        )


class Migration(migrations.Migration):
    dependencies = [("aggregation", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
