"""One table from the venues' own asset codes to the common ones PriceHub names assets by."""

from __future__ import annotations

# Kraken names its oldest assets with an X (crypto) or Z (fiat) prefix and Bitcoin XBT, Dogecoin
# XDG; every venue names every other asset by its usual ticker.
VENUE_CODES = {
    "XBT": "BTC",
    "XXBT": "BTC",
    "XDG": "DOGE",
    "XXDG": "DOGE",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XMLN": "MLN",
    "XREP": "REP",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XXRP": "XRP",
    "XZEC": "ZEC",
    "ZAUD": "AUD",
    "ZCAD": "CAD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZUSD": "USD",
}


def common_code(code: str) -> str:
    """Return the common code of a venue's asset code: XXBT -> BTC, ZUSD -> USD, SOL -> SOL."""
    code = code.upper()
    return VENUE_CODES.get(code, code)
