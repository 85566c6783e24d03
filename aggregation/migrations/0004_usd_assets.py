from django.db import migrations

# Assets priced in USD, from every market of their base whose quote PriceHub converts (see
# aggregation/conversion.py); USDTUSD and USDCUSD are also the rates it converts through.
ASSETS = [("BTC", "hot"), ("ETH", "hot"), ("USDT", "hot"), ("USDC", "hot")]


def seed(apps, schema_editor):
    Asset = apps.get_model("aggregation", "Asset")
    for base, tier in ASSETS:
        Asset.objects.get_or_create(
            symbol=f"{base}USD", defaults={"base": base, "quote": "USD", "tier": tier}
        )


class Migration(migrations.Migration):
    dependencies = [("aggregation", "0003_asset_pricing_rules")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
