from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from aggregation.models import Asset

pytestmark = pytest.mark.usefixtures("seeded_assets")


def run(*args: str) -> str:
    out = StringIO()
    call_command("sim_assets", *args, stdout=out)
    return out.getvalue()


def enabled_tiers() -> dict[str, int]:
    rows = Asset.objects.filter(enabled=True).values("tier").annotate(n=Count("id"))
    return {row["tier"]: row["n"] for row in rows}


def test_it_enables_250_assets_tiered_by_how_much_they_trade():
    output = run("250")
    assert output == (
        "250 simulated assets enabled (20 hot, 180 medium, 50 cold): "
        "240 created, 7 updated, 0 others disabled.\n"
    )
    # The four seeded in USD stay, hot: the venues quote them, and two are the rates.
    assert enabled_tiers() == {"hot": 24, "medium": 180, "cold": 50}
    assert Asset.objects.get(symbol="SIM0010USDT").tier == "hot"
    assert Asset.objects.get(symbol="SIM0190USDT").tier == "medium"
    assert Asset.objects.get(symbol="SIM0191USDT").tier == "cold"
    assert Asset.objects.get(symbol="SIM0240USDT").base == "SIM0240"


def test_it_changes_nothing_when_run_twice():
    run("250")
    assert run("250").endswith(": 0 created, 0 updated, 0 others disabled.\n")


def test_it_disables_the_assets_the_venues_no_longer_quote():
    run("250")
    output = run("3")
    assert output.endswith(": 0 created, 0 updated, 249 others disabled.\n")
    enabled = Asset.objects.filter(enabled=True).values_list("symbol", flat=True)
    # BTC's and ETH's USD markets are still quoted; the stablecoins' are not.
    assert sorted(enabled) == ["BNBUSDT", "BTCUSD", "BTCUSDT", "ETHUSD", "ETHUSDT"]


def test_it_refuses_a_count_below_one():
    with pytest.raises(CommandError, match="at least 1"):
        run("0")


def test_it_enables_again_the_markets_in_other_currencies_of_the_assets_it_enables():
    Asset.objects.filter(symbol__in=["BTCUSD", "USDTUSD"]).update(enabled=False)
    run("250")
    assert Asset.objects.filter(symbol__in=["BTCUSD", "USDTUSD"], enabled=True).count() == 2
    assert Asset.objects.get(symbol="USDTUSD").tier == "hot"
