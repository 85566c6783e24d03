"""The venues' catalogues in their own formats: Binance's /api/v3/exchangeInfo, Coinbase
Exchange's /products, Kraken's /0/public/AssetPairs, OKX's /api/v5/public/instruments, Bybit's
/v5/market/instruments-info and Bitstamp's /api/v2/markets/, each listing the venue's markets
(currencies.listed): every simulated asset's USDT market, and its books in other currencies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mock_exchange_app.currencies import listed, tick_size
from mock_exchange_app.faults import Quote, Reply
from mock_exchange_app.wire import (
    EPOCH,
    KRAKEN_BASE,
    KRAKEN_CODES,
    bitstamp_name,
    bybit_error,
    bybit_result,
    e8,
    kraken_key,
    kraken_name,
    okx_name,
    plain,
)

Query = dict[str, list[str]]
Halted = Callable[[str], bool]  # whether a market is halted (faults.Faults.halted)


def binance_exchange_info(
    _match: re.Match[str], _query: Query, _quote: Quote, *, halted: Halted
) -> Reply:
    """Answer GET /api/v3/exchangeInfo: every symbol with its status, assets and filters."""
    symbols = [
        {
            "symbol": a.symbol,
            "status": "BREAK" if halted(a.symbol) else "TRADING",
            "baseAsset": a.base,
            "baseAssetPrecision": 8,
            "quoteAsset": a.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": e8(tick_size(a.symbol)),
                    "maxPrice": "1000000.00000000",
                    "tickSize": e8(tick_size(a.symbol)),
                }
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
        }
        for a in listed("binance").values()
    ]
    limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]
    return 200, {
        "timezone": "UTC",
        "serverTime": (datetime.now(UTC) - EPOCH) // timedelta(milliseconds=1),
        "rateLimits": limits,
        "exchangeFilters": [],
        "symbols": symbols,
    }


def coinbase_products(
    _match: re.Match[str], _query: Query, _quote: Quote, *, halted: Halted
) -> Reply:
    """Answer GET /products: every product with its status and trading flags."""
    return 200, [
        {
            "id": f"{a.base}-{a.quote}",
            "base_currency": a.base,
            "quote_currency": a.quote,
            "quote_increment": plain(tick_size(a.symbol)),
            "base_increment": "0.00000001",
            "display_name": f"{a.base}-{a.quote}",
            "min_market_funds": "1",
            "margin_enabled": False,
            "post_only": False,
            "limit_only": False,
            "cancel_only": False,
            "status": "online",
            "status_message": "",
            "trading_disabled": halted(a.symbol),
            "fx_stablecoin": False,
            "max_slippage_percentage": "0.03000000",
            "auction_mode": False,
            "high_bid_limit_percentage": "",
        }
        for a in listed("coinbase").values()
    ]


def kraken_asset_pairs(
    _match: re.Match[str], _query: Query, _quote: Quote, *, halted: Halted
) -> Reply:
    """Answer GET /0/public/AssetPairs: every pair under its key, with Kraken's asset codes."""
    result = {}
    for a in listed("kraken").values():
        base = KRAKEN_BASE.get(a.base, a.base)
        result[kraken_key(a.symbol, a.base, a.quote)] = {
            "altname": kraken_name(a.base, a.quote),
            "wsname": f"{base}/{a.quote}",
            "aclass_base": "currency",
            "base": KRAKEN_CODES.get(a.base, a.base),
            "aclass_quote": "currency",
            "quote": KRAKEN_CODES.get(a.quote, a.quote),
            "lot": "unit",
            "cost_decimals": 5,
            "pair_decimals": -tick_size(a.symbol).as_tuple().exponent,
            "lot_decimals": 8,
            "lot_multiplier": 1,
            "fee_volume_currency": "ZUSD",
            "ordermin": "0.0001",
            "costmin": "0.5",
            "tick_size": plain(tick_size(a.symbol)),
            "status": "cancel_only" if halted(a.symbol) else "online",
        }
    return 200, {"error": [], "result": result}


def okx_instruments(_match: re.Match[str], query: Query, _quote: Quote, *, halted: Halted) -> Reply:
    """Answer GET /api/v5/public/instruments?instType=SPOT: every spot instrument and its
    state, suspend when halted."""
    if query.get("instType", [""])[0] != "SPOT":
        return 400, {"code": "51000", "msg": "Parameter instType error", "data": []}
    data = [
        {
            "alias": "",
            "baseCcy": a.base,
            "category": "1",
            "ctMult": "",
            "ctType": "",
            "ctVal": "",
            "ctValCcy": "",
            "expTime": "",
            "instFamily": "",
            "instId": okx_name(a.base, a.quote),
            "instType": "SPOT",
            "lever": "10",
            "listTime": "1548133413000",
            "lotSz": "0.00000001",
            "maxIcebergSz": "9999999999.0000000000000000",
            "maxLmtAmt": "20000000",
            "maxLmtSz": "9999999999",
            "maxMktAmt": "1000000",
            "maxMktSz": "1000000",
            "maxStopSz": "1000000",
            "maxTriggerSz": "9999999999.0000000000000000",
            "maxTwapSz": "9999999999.0000000000000000",
            "minSz": "0.00001",
            "optType": "",
            "quoteCcy": a.quote,
            "ruleType": "normal",
            "settleCcy": "",
            "state": "suspend" if halted(a.symbol) else "live",
            "stk": "",
            "tickSz": plain(tick_size(a.symbol)),
            "uly": "",
        }
        for a in listed("okx").values()
    ]
    return 200, {"code": "0", "msg": "", "data": data}


def bybit_instruments(
    _match: re.Match[str], query: Query, _quote: Quote, *, halted: Halted
) -> Reply:
    """Answer GET /v5/market/instruments-info?category=spot: the spot instruments that trade
    (a halted one leaves the list, as spot lists Trading only), a page of `limit` (500 by
    default, 1000 at most) from `cursor`."""
    if query.get("category", [""])[0] != "spot":
        return 200, bybit_error(10001, "Illegal category")
    try:
        limit = int(query.get("limit", ["500"])[0])
        start = int(query.get("cursor", ["0"])[0] or 0)
    except ValueError:
        return 200, bybit_error(10001, "Request parameter error")
    if not 1 <= limit <= 1000 or start < 0:
        return 200, bybit_error(10001, "Request parameter error")
    trading = [a for a in listed("bybit").values() if not halted(a.symbol)]
    page = [
        {
            "symbol": a.symbol,
            "baseCoin": a.base,
            "quoteCoin": a.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "utaOnly",
            "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": "0.000001",
                "quotePrecision": "0.0000001",
                "minOrderQty": "0.000011",
                "maxOrderQty": "83",
                "minOrderAmt": "5",
                "maxOrderAmt": "8000000",
            },
            "priceFilter": {"tickSize": plain(tick_size(a.symbol))},
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        }
        for a in trading[start : start + limit]
    ]
    more = start + limit < len(trading)
    result = {
        "category": "spot",
        "list": page,
        "nextPageCursor": str(start + limit) if more else "",
    }
    return 200, bybit_result(result)


def bitstamp_markets(
    _match: re.Match[str], _query: Query, _quote: Quote, *, halted: Halted
) -> Reply:
    """Answer GET /api/v2/markets/: every market, trading Disabled when halted."""
    return 200, [
        {
            "name": f"{a.base}/{a.quote}",
            "market_symbol": bitstamp_name(a.base, a.quote),
            "base_currency": a.base,
            "base_decimals": 8,
            "counter_currency": a.quote,
            "counter_decimals": -tick_size(a.symbol).as_tuple().exponent,
            "minimum_order_value": "10",
            "trading": "Disabled" if halted(a.symbol) else "Enabled",
            "instant_order_counter_decimals": 2,
            "instant_and_market_orders": "Enabled",
            "description": f"{a.base} / {a.quote}",
            "market_type": "SPOT",
        }
        for a in listed("bitstamp").values()
    ]
