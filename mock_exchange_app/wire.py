"""How the venues write numbers, times and asset names on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Kraken's names for the pairs it is asked for: XBTUSDT, XDGUSDT.
KRAKEN_BASE = {"BTC": "XBT", "DOGE": "XDG"}
# The keys of Kraken's oldest pairs, which its catalogue and tickers answer under; any other
# pair's key is its name (XBTUSDT).
KRAKEN_KEYS = {
    "BTCUSD": "XXBTZUSD",
    "ETHUSD": "XETHZUSD",
    "XRPUSD": "XXRPZUSD",
    "USDTUSD": "USDTZUSD",
    "BTCEUR": "XXBTZEUR",
    "ETHEUR": "XETHZEUR",
    "EURUSD": "ZEURZUSD",
}
# The asset codes of Kraken's catalogue: its oldest assets keep an X (crypto) or Z (fiat) prefix.
KRAKEN_CODES = {
    "BTC": "XXBT", "DOGE": "XXDG", "ETH": "XETH", "ETC": "XETC", "LTC": "XLTC", "XLM": "XXLM",
    "XMR": "XXMR", "XRP": "XXRP", "ZEC": "XZEC", "USD": "ZUSD", "EUR": "ZEUR", "GBP": "ZGBP",
}  # fmt: skip


def kraken_name(base: str, quote: str) -> str:
    """Return Kraken's name for a pair (its altname): XBTUSD."""
    return KRAKEN_BASE.get(base, base) + quote


def kraken_key(symbol: str, base: str, quote: str) -> str:
    """Return the key Kraken lists a pair under: XXBTZUSD, or its name."""
    return KRAKEN_KEYS.get(symbol, kraken_name(base, quote))


def e8(value: Decimal) -> str:
    """Format with exactly 8 decimals, as Binance pads every number."""
    return f"{value:.8f}"


def plain(value: Decimal) -> str:
    return format(value, "f")


def whole_lots(qty: Decimal) -> str:
    """Return a quantity rounded up to whole lots, as Kraken's book sides count them."""
    return str(int(qty.to_integral_value(ROUND_CEILING)))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def okx_name(base: str, quote: str) -> str:
    """Return OKX's instrument id: BTC-USDT."""
    return f"{base}-{quote}"


def bitstamp_name(base: str, quote: str) -> str:
    """Return Bitstamp's market symbol: btcusd."""
    return f"{base}{quote}".lower()


def bybit_result(result: dict[str, Any], time_ms: int | None = None) -> dict[str, Any]:
    """Return Bybit's envelope of a successful answer."""
    at = now_ms() if time_ms is None else time_ms
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": at}


def bybit_error(code: int, message: str) -> dict[str, Any]:
    """Return Bybit's envelope of an error, sent with HTTP 200."""
    return {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": now_ms()}


def now_ms() -> int:
    """Return the time now in epoch milliseconds."""
    return (datetime.now(UTC) - EPOCH) // timedelta(milliseconds=1)
