from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from aggregation import price_cache, scheduling
from aggregation.models import Asset
from aggregation.services import price_refresh
from deploy.services import free_port
from exchanges.models import Exchange


@pytest.mark.django_db
def test_the_admin_sends_anonymous_visitors_to_its_login(client):
    response = client.get("/admin/aggregation/asset/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/aggregation/asset/",
    )


@pytest.mark.django_db
def test_the_admin_turns_away_a_user_who_is_not_staff(client):
    client.force_login(User.objects.create_user("reader"))
    assert client.get("/admin/aggregation/asset/").status_code == 302


@pytest.mark.django_db
def test_the_admin_lets_staff_edit_assets_and_import_them(admin_client):
    page = admin_client.get("/admin/aggregation/asset/").content.decode()
    assert "BTCUSDT" in page
    assert 'href="/admin/aggregation/asset/import/"' in page


@pytest.mark.django_db
@pytest.mark.usefixtures("stores", "venue_rows")
def test_the_admin_refreshes_the_selected_assets_now(admin_client):
    response = act(admin_client, "aggregation/asset", "refresh_now", [_pk("ETHUSDT")])
    assert "ETHUSDT: " in response.content.decode()
    assert price_cache.latest_price("ETHUSDT") is not None


@pytest.mark.django_db
@pytest.mark.usefixtures("stores", "venue_rows")
def test_the_asset_list_shows_each_price_and_its_age(admin_client):
    price = price_refresh(symbol="ETHUSDT")
    # A later aggregation whose newest quote is 42 s old at the venue: the age counts from
    # that quote, as the API's does, not from the aggregation.
    published = datetime.now(UTC)
    later = dataclasses.replace(
        price,
        aggregated_at=price.aggregated_at + timedelta(milliseconds=1),
        last_updated=published - timedelta(seconds=42),
    )
    assert price_cache.publish([later], []) == [later]
    page = admin_client.get("/admin/aggregation/asset/").content.decode()
    # On a busy machine the page may take a while: the age grows by that much, no more.
    waited = (datetime.now(UTC) - published).total_seconds()
    row = page[page.index(">ETHUSDT<") :].split("</tr>")[0]
    assert f"{price.price} ({len(price.used)} sources)" in row
    age = float(re.search(r'class="field-age">(\d+\.\d) s<', row)[1])
    assert 42 <= age <= 42 + waited + 0.1
    unpriced = page[page.index(">SOLUSDT<") :].split("</tr>")[0]
    assert unpriced.count(">-<") == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("stores")
def test_the_admin_moves_the_selected_assets_to_a_tier_and_tells_every_process(admin_client):
    _, version, _ = scheduling.schedule_state()
    selected = [_pk("BTCUSDT"), _pk("ETHUSDT")]
    response = act(admin_client, "aggregation/asset", "move_to_cold", selected)
    assert "Moved 2 asset(s) to the cold tier." in response.content.decode()
    assert set(Asset.objects.filter(tier="cold").values_list("symbol", flat=True)) >= {
        "BTCUSDT",
        "ETHUSDT",
    }
    assert scheduling.schedule_state()[1] != version


@pytest.mark.django_db
@pytest.mark.usefixtures("stores")
def test_the_admin_imports_assets_from_csv_and_says_what_it_refused(admin_client):
    rows = [
        "symbol,base,quote,tier,quorum",
        "NEWUSDT,NEW,USDT,hot,1",
        "OTHERUSDT,OTHER,USDT,,",
        "BTCUSDT,BTC,USDT,hot,2",
        "bad!,BAD,USDT,,",
        "NEXTUSDT,NEXT,USDT,lukewarm,",
        "NEWUSDT,NEW,USDT,cold,",
    ]
    upload = SimpleUploadedFile("assets.csv", "\n".join(rows).encode(), "text/csv")
    page = admin_client.post("/admin/aggregation/asset/import/", {"file": upload})
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert "Added 2" in text
    assert "Refused 4" in text
    assert "line 4: BTCUSDT: symbol: Asset with this Symbol already exists." in text
    assert "line 5: bad!: symbol: Enter a valid value." in text
    assert "line 6: NEXTUSDT: tier: Select a valid choice. lukewarm is not one" in text
    assert "line 7: NEWUSDT: repeats an earlier line" in text
    new = Asset.objects.get(symbol="NEWUSDT")
    assert (new.tier, new.quorum, new.enabled) == ("hot", 1, True)
    assert Asset.objects.get(symbol="OTHERUSDT").tier == "medium"
    assert not Asset.objects.filter(symbol="NEXTUSDT").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("stores", "venue_rows")
def test_the_admin_tests_each_venue_connection_and_shows_its_latency(admin_client):
    Exchange.objects.create(
        name="gone", kind="binance", base_url=f"http://127.0.0.1:{free_port()}", enabled=False
    )
    selected = [exchange.pk for exchange in Exchange.objects.filter(name__in=["kraken", "gone"])]
    response = act(admin_client, "exchanges/exchange", "test_connection", selected)
    text = html.unescape(response.content.decode())
    assert re.search(r'"info">Kraken: BTCUSDT \d+(\.\d+)? in \d+ ms', text)
    assert '"warning">Gone: unreachable' in text
    page = admin_client.get("/admin/exchanges/exchange/").content.decode()
    assert re.search(r"kraken.*?\d+(\.\d+)? / \d+(\.\d+)? ms over \d+ requests", page, re.DOTALL)


def act(client: Client, model: str, action: str, selected: list[int]) -> HttpResponse:
    """Run an admin action of model's list on the selected rows; return the page it leads to."""
    form = {"action": action, "_selected_action": selected}
    return client.post(f"/admin/{model}/", form, follow=True)


def _pk(symbol: str) -> int:
    return Asset.objects.get(symbol=symbol).pk


def admin_login(client: Client, password: str) -> HttpResponse:
    return client.post("/admin/login/", {"username": "boss", "password": password})


@pytest.mark.django_db
def test_six_wrong_passwords_lock_the_next_login_out_even_with_the_right_one(client):
    User.objects.create_superuser("boss", password="the-right-one")
    tries = [admin_login(client, "wrong").status_code for _ in range(6)]
    locked = admin_login(client, "the-right-one")
    # The login form again, with its error, until the fifth failure locks the pair out.
    assert tries == [200] * 4 + [429] * 2
    assert (locked.status_code, locked.json()["error"]) == (429, "locked_out")
    assert locked["Retry-After"] == "900"
    # The lockout holds that username from that address: another address may still log in.
    elsewhere = admin_login(Client(REMOTE_ADDR="192.0.2.10"), "the-right-one")
    assert elsewhere.status_code == 302  # signed in, sent on; a failure shows the form again


@pytest.mark.django_db
def test_an_ipv6_client_that_moves_within_its_64_stays_locked_out():
    User.objects.create_superuser("boss", password="the-right-one")
    for host in range(1, 6):  # a new address for each failure, all in one /64
        admin_login(Client(REMOTE_ADDR=f"2001:db8:1:2::{host}"), "wrong")
    locked = admin_login(Client(REMOTE_ADDR="2001:db8:1:2:ffff::1"), "the-right-one")
    assert (locked.status_code, locked.json()["error"]) == (429, "locked_out")
    # The next /64 is another client.
    elsewhere = admin_login(Client(REMOTE_ADDR="2001:db8:1:3::1"), "the-right-one")
    assert elsewhere.status_code == 302
