"""What every venue adapter shares: the HTTP answer's handling, in the Adapter every venue's
adapter declares its fields and names on."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any, ClassVar

from exchanges.adapters.fields import (
    Path,
    book_side_field,
    decimal_field,
    decode_json,
    json_object,
    one_line,
    volume_field,
)
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing, Pair, Quote, RateLimited, UnknownPair

logger = logging.getLogger(__name__)


class Adapter(ABC):
    """Translate one venue's public REST tickers into Quotes."""

    kind: ClassVar[str]
    price: ClassVar[Path]
    bid: ClassVar[Path]
    ask: ClassVar[Path]
    volume: ClassVar[Path]
    # error_message's text when the venue lists no such pair; a bulk request then fails whole.
    unknown_pair: ClassVar[str | None] = None
    # The HTTP status a venue answers an unlisted pair's ticker with, when it says so by its
    # status alone (Bitstamp's 404 page) rather than in words.
    unknown_pair_status: ClassVar[int | None] = None
    # How many pairs one request may ask for; 1 means the venue has no bulk ticker.
    max_pairs: ClassVar[int] = 1
    # The path of the venue's catalogue: every market it lists, with its status.
    catalogue_path: ClassVar[str]
    # The venue's documented limit on an address's calls (exchanges/limits.py), and what a
    # read of the catalogue costs of it; cost() is a ticker call's.
    limit: ClassVar[Limit]
    catalogue_cost: ClassVar[int] = 1
    # How long the venue asks to wait after refusing a call for its limit, when it does not
    # say (no Retry-After): after HTTP 429 or its own words, and after HTTP 418, a ban.
    refused_seconds: ClassVar[float] = 1.0
    banned_seconds: ClassVar[float] = 120.0
    # The HTTP statuses by which the venue bans the address for a while: Binance's 418,
    # Bybit's 403 "access too frequent". A 429 is a refusal of the one call.
    ban_statuses: ClassVar[frozenset[int]] = frozenset({HTTPStatus.IM_A_TEAPOT})
    # The response header with the venue's own count of what the address used, if it sends one.
    used_header: ClassVar[str | None] = None
    # The venue's own error messages when it refuses a call for its limit.
    rate_limit_errors: ClassVar[frozenset[str]] = frozenset()

    def answer_size(self, pairs: int) -> int:
        """Return how many tickers the answer to a call for that many pairs may hold."""
        return pairs

    def cost(self, pairs: int) -> int:
        """Return what a call for that many pairs takes of the venue's limit."""
        return 1

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
            bid=book_side_field(ticker, *self.bid),
            ask=book_side_field(ticker, *self.ask),
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
        if status == self.unknown_pair_status:
            raise UnknownPair(f"{self.kind} does not list this pair (HTTP {status})")
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
            message = one_line(message)
            logger.debug("%s answered HTTP %d, error %r", self.kind, status, message)
            if message == self.unknown_pair:
                raise UnknownPair(f"{self.kind} does not list this pair")
            if message in self.rate_limit_errors:
                raise RateLimited(
                    f"{self.kind} refused the call for its rate limit", wait=self.refused_seconds
                )
            raise ExchangeError(
                f"{self.kind} answered an error (HTTP {status})", reason="venue_error"
            )
        if status != HTTPStatus.OK:
            raise ExchangeError(f"{self.kind} answered HTTP {status}", reason="venue_error")
        return payload


class AllTickersAdapter(Adapter):
    """A venue whose bulk ticker answers every market it lists at once (OKX, Bybit,
    Bitstamp): the answer's entries are picked by the name each one carries."""

    # No URL grows with the pairs asked: one call serves any number of them.
    max_pairs = 1000
    # Where an entry of the bulk answer says which market it is.
    entry_name: ClassVar[str]

    @abstractmethod
    def all_url(self, base_url: str) -> str:
        """Return the URL of every market's ticker."""

    @abstractmethod
    def entries(self, payload: Any) -> list[Any]:
        """Return the entries of a ticker answer, single or bulk."""

    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return the catalogue's markets, which come in the tickers' envelope."""
        return ((str(index), entry) for index, entry in enumerate(self.entries(payload)))

    def answer_size(self, pairs: int) -> int:
        """Return how many tickers an answer may hold: the bulk one holds every market."""
        return pairs if pairs == 1 else self.max_pairs

    def names_url(self, base_url: str, names: Sequence[str]) -> str:
        """Return the URL of every ticker, whichever were asked for."""
        return self.all_url(base_url)

    def answer_name(self, name: str) -> str:
        """Return the market's name as the catalogue and the single ticker spell it, from the
        name an entry of the bulk answer carries."""
        return name

    def ticker(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the only entry of a single ticker's answer."""
        entries = self.entries(payload)
        if len(entries) != 1 or not isinstance(entries[0], dict):
            raise ExchangeError("the answer does not hold exactly one ticker object")
        return entries[0]

    def tickers(self, payload: Any, pairs: Sequence[Pair]) -> dict[str, Any]:
        """Return the entries of the answer that the pairs asked for, by their names."""
        by_name = {}
        for entry in self.entries(payload):
            name = entry.get(self.entry_name) if isinstance(entry, dict) else None
            if isinstance(name, str):
                by_name[self.answer_name(name)] = entry
        return {pair.symbol: by_name.get(self.name(pair)) for pair in pairs}
