"""Reading a venue's JSON: each field found by its path, checked and turned into PriceHub's
types (Decimal amounts, UTC times), or an ExchangeError that says which field is wrong."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, TypeAlias
from urllib.parse import urlencode

from exchanges.quotes import ExchangeError

# A step into a JSON document: a key of an object or an index of an array.
Path: TypeAlias = tuple[str | int, ...]

# No traded asset is priced anywhere near this; a bigger number is a venue bug.
MAX_PRICE = Decimal("1e15")
# Meme coins trade tens of trillions of units a day, so volume gets more room than price.
MAX_VOLUME = Decimal("1e18")
# Venue and PriceHub clocks never agree exactly; beyond this a timestamp is wrong, not skewed.
MAX_CLOCK_SKEW = timedelta(seconds=5)
# Venue messages end up in logs and the admin; keep them to one short line.
MAX_MESSAGE_LENGTH = 200
# Venues send any number of digits; DynamoDB keeps 38 significant ones and no exponent below
# -130, so amounts are rounded to 18 decimal places, which leaves 38 digits below 1e20.
PLACES = Decimal("1e-18")
_ROUNDING = Context(prec=38, rounding=ROUND_HALF_EVEN)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Plain decimal notation as the venues send it; rules out "NaN", "Infinity", "1_000", " 1".
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,3})?", re.ASCII)


def join_url(base_url: str, path: str, **params: str) -> str:
    """Return base_url followed by path and the encoded query params."""
    # Commas stay as they are, the way the venues document their lists.
    query = f"?{urlencode(params, safe=',')}" if params else ""
    return f"{base_url.rstrip('/')}{path}{query}"


def decode_json(body: bytes) -> Any:
    """Return the JSON value in body, refusing NaN and Infinity."""
    try:
        # Decimal keeps any stray number exact; money fields must still be strings.
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ExchangeError("not JSON") from None


def json_object(payload: Any) -> dict[str, Any]:
    """Return payload, which must be a JSON object."""
    if not isinstance(payload, dict):
        raise ExchangeError("top level is not a JSON object")
    return payload


def text_field(obj: object, *path: str | int) -> str:
    """Return the non-empty string at path."""
    value = _required(obj, path)
    if not isinstance(value, str) or not value:
        raise ExchangeError(f"{_label(path)} is not a non-empty string")
    return value


def decimal_field(obj: object, *path: str | int) -> Decimal:
    """Return the positive amount at path."""
    value = _decimal(_required(obj, path), path)
    _check_positive(value, path)
    return value


def optional_decimal_field(obj: object, *path: str | int) -> Decimal | None:
    """Return the positive amount at path, or None when the venue leaves it out."""
    raw = _walk(obj, path)
    if raw is None:
        return None
    value = _decimal(raw, path)
    _check_positive(value, path)
    return value


def book_side_field(obj: object, *path: str | int) -> Decimal | None:
    """Return the best bid or ask at path, or None when that side of the book is empty: left
    out, blank (OKX's and Bybit's "bidPx": ""), or zero (Binance's "bidPrice": "0.00000000"
    when no order rests there)."""
    raw = _walk(obj, path)
    zero = isinstance(raw, str) and _DECIMAL.fullmatch(raw) and Decimal(raw) == 0
    if raw is None or raw == "" or zero:
        return None
    value = _decimal(raw, path)  # a bid too small to keep is refused, not taken for none
    _check_positive(value, path)
    return value


def volume_field(obj: object, *path: str | int) -> Decimal:
    """Return the non-negative volume at path."""
    value = _decimal(_required(obj, path), path)
    if not 0 <= value < MAX_VOLUME:
        raise ExchangeError(f"{_label(path)} is not a non-negative number below {MAX_VOLUME}")
    return value


def epoch_ms_field(obj: object, *path: str | int, received_at: datetime) -> datetime:
    """Return the time at path, given in milliseconds since the Unix epoch."""
    raw = _required(obj, path)
    # bool is an int subclass, and true is no time.
    if type(raw) is not int:
        raise ExchangeError(f"{_label(path)} is not an integer")
    try:
        moment = _EPOCH + timedelta(milliseconds=raw)
    except OverflowError:
        raise ExchangeError(f"{_label(path)} is not a valid time") from None
    return _not_future(moment, path, received_at)


def epoch_text_field(
    obj: object, *path: str | int, received_at: datetime, per_second: int = 1000
) -> datetime:
    """Return the time at path, given as a string of whole units since the Unix epoch: OKX's
    milliseconds ("ts": "1710328243709"), Bitstamp's seconds (per_second=1)."""
    raw = _required(obj, path)
    if not isinstance(raw, str) or not raw.isdigit() or not raw.isascii():
        raise ExchangeError(f"{_label(path)} is not a string of digits")
    try:
        moment = _EPOCH + timedelta(microseconds=int(raw) * (1_000_000 // per_second))
    except OverflowError:
        raise ExchangeError(f"{_label(path)} is not a valid time") from None
    return _not_future(moment, path, received_at)


def iso_time_field(obj: object, *path: str | int, received_at: datetime) -> datetime:
    """Return the time at path, given as ISO 8601 with a UTC offset."""
    raw = _required(obj, path)
    if not isinstance(raw, str):
        raise ExchangeError(f"{_label(path)} is not a string")
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ExchangeError(f"{_label(path)} is not an ISO 8601 time with offset") from None
    return _not_future(moment, path, received_at)


def _reject_constant(name: str) -> Any:
    """Refuse the NaN and Infinity literals that Python's json module would accept."""
    raise ValueError(name)


def _walk(obj: object, path: Path) -> object:
    """Return the value at path, None when a step is absent or null."""
    for depth, step in enumerate(path):
        if obj is None:
            return None
        if isinstance(step, str) and isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(step, int) and isinstance(obj, list):
            obj = obj[step] if step < len(obj) else None
        else:
            shape = "an array" if isinstance(step, int) else "an object"
            raise ExchangeError(f"{_label(path[:depth])} is not {shape}")
    return obj


def _required(obj: object, path: Path) -> object:
    """Return the value at path, which must be there."""
    raw = _walk(obj, path)
    if raw is None:
        raise ExchangeError(f"{_label(path)} missing")
    return raw


def _decimal(raw: object, path: Path) -> Decimal:
    """Return raw as a Decimal; venues send amounts as strings to keep them exact."""
    if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw):
        raise ExchangeError(f"{_label(path)} is not a decimal string")
    return normalised(Decimal(raw))


def normalised(value: Decimal) -> Decimal:
    """Return value rounded to 18 decimal places; from 1e20 up the range checks refuse it."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18 and value.adjusted() < 20:
        return value.quantize(PLACES, context=_ROUNDING)
    return value


def _check_positive(value: Decimal, path: Path) -> None:
    """Refuse a price that is zero, negative or implausibly large."""
    if not 0 < value < MAX_PRICE:
        raise ExchangeError(f"{_label(path)} is not a positive number below {MAX_PRICE}")


def _not_future(moment: datetime, path: Path, received_at: datetime) -> datetime:
    """Return moment unless it is later than the answer's arrival; staleness is judged later."""
    if moment > received_at + MAX_CLOCK_SKEW:
        raise ExchangeError(f"{_label(path)} is in the future")
    return moment


def _label(path: Path) -> str:
    """Return how messages name the field at path, e.g. field 'c[0]'."""
    name = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    return f"field '{name.lstrip('.')}'"


def one_line(message: str) -> str:
    """Return message on one line, cut to a readable length."""
    return " ".join(message.split())[:MAX_MESSAGE_LENGTH]
