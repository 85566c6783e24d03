from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from aggregation import price_cache
from aggregation.history import reads
from aggregation.models import Asset

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_refreshes_the_named_assets_with_progress():
    output = run("refresh", "btcusdt", "ETHUSDT")
    assert output.startswith("[1/2] BTCUSDT ")
    assert "[2/2] ETHUSDT " in output
    assert price_cache.latest_price("ETHUSDT") is not None


def test_it_refreshes_every_enabled_asset_with_all():
    Asset.objects.exclude(symbol__in=["BTCUSDT", "XRPUSDT"]).update(enabled=False)
    output = run("refresh", "--all")
    assert output.count("(6/6 sources)") == 2


def test_it_refreshes_one_tier():
    output = run("refresh", "--tier", "cold")
    assert [line.split()[1] for line in output.splitlines()] == ["AVAXUSDT", "TRXUSDT", "USDCUSDT"]


def test_it_fails_when_an_asset_cannot_be_refreshed():
    with pytest.raises(CommandError, match="1 of 2 refreshes failed"):
        run("refresh", "BTCUSDT", "NOPEUSDT")


def test_it_asks_for_assets_or_all():
    with pytest.raises(CommandError, match="Name assets"):
        run("refresh")


def test_it_creates_the_history_table_idempotently(settings):
    settings.DYNAMODB_TABLE = "prices-command-test"
    first, second = run("ensure_dynamodb_table"), run("ensure_dynamodb_table")
    assert (
        first == second == "Tables prices-command-test and prices-command-test-candles are ready "
        f"({settings.DYNAMODB_ENDPOINT_URL}).\n"
    )
    assert reads.latest("BTCUSDT") is None


def test_it_reports_a_refresh_already_running_and_goes_on():
    err = StringIO()
    with price_cache.refresh_lock("BTCUSDT"), pytest.raises(CommandError, match="1 of 2"):
        call_command("refresh", "BTCUSDT", "ETHUSDT", stdout=StringIO(), stderr=err)
    assert err.getvalue() == (
        "[1/2] BTCUSDT failed (refresh_in_progress): A refresh of BTCUSDT is already running.\n"
    )


def test_it_reports_an_unknown_asset_by_its_code():
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("refresh", "NOPEUSDT", stdout=StringIO(), stderr=err)
    assert err.getvalue() == "[1/1] NOPEUSDT failed (not_found): No enabled asset NOPEUSDT.\n"
