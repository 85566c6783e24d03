from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from aggregation import price_cache
from aggregation.models import Asset


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
def test_the_admin_lets_staff_edit_assets(admin_client):
    page = admin_client.get("/admin/aggregation/asset/").content.decode()
    assert "BTCUSDT" in page


@pytest.mark.django_db
@pytest.mark.usefixtures("stores", "venue_rows")
def test_the_admin_refreshes_the_selected_assets_now(admin_client):
    response = admin_client.post(
        "/admin/aggregation/asset/",
        {"action": "refresh_now", "_selected_action": [Asset.objects.get(symbol="ETHUSDT").pk]},
        follow=True,
    )
    assert "ETHUSDT: " in response.content.decode()
    assert price_cache.latest_price("ETHUSDT") is not None
