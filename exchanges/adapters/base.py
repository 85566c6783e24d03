"""What every venue adapter shares: the HTTP answer's handling and the checks on its fields."""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from http import HTTPStatus
from typing import Any, ClassVar, TypeAlias
from urllib.parse import urlencode

from exchanges.quotes import ExchangeError, Listing, Pair, Quote, UnknownPair

logger = logging.getLogger(__name__)

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


class Adapter(ABC):
    """Translate one venue's public REST tickers into Quotes."""

    kind: ClassVar[str]
    price: ClassVar[Path]
    bid: ClassVar[Path]
    ask: ClassVar[Path]
    volume: ClassVar[Path]
    # error_message's text when the venue lists no such pair; a bulk request then fails whole.
    unknown_pair: ClassVar[str]
    # How many pairs one request may ask for; 1 means the venue has no bulk ticker.
    max_pairs: ClassVar[int] = 1
    # The path of the venue's catalogue: every market it lists, with its status.
    catalogue_path: ClassVar[str]

    @abstractmethod
    def pair_name(self, base: str, quote: str) -> str:
        """Return the venue's usual name for the pair base/quote, e.g. BTCUSDT."""

    @abstractmethod
    def name_url(self, base_url: str, name: str) -> str:
        """Return the URL of the ticker of the market the venue calls name."""

    def names_url(self, base_url: str, names: Sequence[str]) -> str:
        """Return the URL of the tickers of several markets at once, by the venue's names."""
        raise NotImplementedError(f"{self.kind} has no bulk ticker")

    def name(self, pair: Pair) -> str:
        """Return the venue's name for pair: its catalogue's, else its usual one."""
        return pair.market or self.pair_name(pair.base, pair.quote)

    def ticker_url(self, base_url: str, base: str, quote: str) -> str:
        """Return the URL of the ticker for the pair base/quote."""
        return self.name_url(base_url, self.pair_name(base, quote))

    def tickers_url(self, base_url: str, pairs: Sequence[Pair]) -> str:
        """Return the URL of the tickers of several pairs at once."""
        return self.names_url(base_url, [self.name(pair) for pair in pairs])

    @abstractmethod
    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return the venue's own error message if the payload is an error body."""

    @abstractmethod
    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime | None:
        """Return the venue's time for the ticker, or None when it gives none."""

    def ticker(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the object that holds the ticker fields."""
        return payload

    def tickers(self, payload: Any, pairs: Sequence[Pair]) -> dict[str, Any]:
        """Return each pair's entry in a bulk answer by PriceHub symbol, None when missing."""
        raise NotImplementedError(f"{self.kind} has no bulk ticker")

    @abstractmethod
    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return each market's entry in the catalogue's answer, with the key it is under."""

    @abstractmethod
    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the market that a catalogue entry describes, or raise ExchangeError."""

    def parse_catalogue(self, status: int, body: bytes) -> list[Listing]:
        """Translate the answer to the catalogue into its markets; an entry that cannot be
        read is left out. Raise ExchangeError when the answer as a whole is unusable."""
        listings = []
        for key, entry in self.catalogue(self._payload(status, body)):
            try:
                listings.append(self.listing(key, json_object(entry)))
            except ExchangeError as exc:
                logger.info("%s catalogue: left out the entry %.40r: %s", self.kind, key, exc)
        return listings

    def url(self, base_url: str, pairs: Sequence[Pair]) -> str:
        """Return the URL asking for pairs: the single ticker for one, the bulk form for more."""
        if len(pairs) == 1:
            return self.name_url(base_url, self.name(pairs[0]))
        return self.tickers_url(base_url, pairs)

    def parse_all(
        self,
        status: int,
        body: bytes,
        *,
        exchange: str,
        pairs: Sequence[Pair],
        received_at: datetime,
    ) -> dict[str, Quote | ExchangeError]:
        """Translate the answer to url(pairs) into each symbol's Quote or error.

        Raise ExchangeError when the answer as a whole is unusable; a bad or missing entry of
        a bulk answer is that symbol's error alone.
        """
        if len(pairs) == 1:
            symbol = pairs[0].symbol
            return {
                symbol: self.parse(
                    status, body, exchange=exchange, symbol=symbol, received_at=received_at
                )
            }
        entries = self.tickers(self._payload(status, body), pairs)
        return {
            pair.symbol: self._entry(
                entries.get(pair.symbol), exchange=exchange, symbol=pair.symbol, at=received_at
            )
            for pair in pairs
        }

    def parse(
        self, status: int, body: bytes, *, exchange: str, symbol: str, received_at: datetime
    ) -> Quote:
        """Translate one HTTP answer into a Quote, or raise ExchangeError."""
        ticker = self.ticker(json_object(self._payload(status, body)))
        return self._quote(ticker, exchange=exchange, symbol=symbol, received_at=received_at)

    def _quote(
        self, ticker: dict[str, Any], *, exchange: str, symbol: str, received_at: datetime
    ) -> Quote:
        return Quote(
            exchange=exchange,
            symbol=symbol,
            price=decimal_field(ticker, *self.price),
            bid=optional_decimal_field(ticker, *self.bid),
            ask=optional_decimal_field(ticker, *self.ask),
            volume=volume_field(ticker, *self.volume),
            timestamp=self.timestamp(ticker, received_at),
            received_at=received_at,
        )

    def _entry(
        self, entry: Any, *, exchange: str, symbol: str, at: datetime
    ) -> Quote | ExchangeError:
        """Return the Quote in one entry of a bulk answer, or what makes it unusable."""
        if entry is None:
            return ExchangeError("ticker missing from the answer")
        if not isinstance(entry, dict):
            return ExchangeError("ticker is not an object")
        try:
            return self._quote(entry, exchange=exchange, symbol=symbol, received_at=at)
        except ExchangeError as exc:
            return exc

    def _payload(self, status: int, body: bytes) -> Any:
        """Return the decoded body of a successful answer."""
        try:
            payload = decode_json(body)
        except ExchangeError:
            if status == HTTPStatus.OK:
                raise
            # Proxies and outages answer with HTML; the status says more than the body.
            payload = {}
        message = self.error_message(payload) if isinstance(payload, dict) else None
        if message:
            # The venue's own words go to the log; the public sees PriceHub's.
            message = _one_line(message)
            logger.debug("%s answered HTTP %d, error %r", self.kind, status, message)
            if message == self.unknown_pair:
                raise UnknownPair(f"{self.kind} does not list this pair")
            raise ExchangeError(
                f"{self.kind} answered an error (HTTP {status})", reason="venue_error"
            )
        if status != HTTPStatus.OK:
            raise ExchangeError(f"{self.kind} answered HTTP {status}", reason="venue_error")
        return payload


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


def _one_line(message: str) -> str:
    """Return message on one line, cut to a readable length."""
    return " ".join(message.split())[:MAX_MESSAGE_LENGTH]
