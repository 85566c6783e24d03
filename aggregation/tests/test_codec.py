"""Every format PriceHub keeps in Redis reads back as it was written. Pure: no Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregation import codec
from aggregation.candles import INTERVALS, Candle
from aggregation.documents import render_failure, render_price
from aggregation.methods import METHODS
from aggregation.price import (
    AggregatedPrice,
    HistoryPoint,
    RefreshFailure,
    Source,
    epoch_ms,
    whole_ms,
)

# From 1e-12 to 1e12, with as many digits (trailing zeros too) as a venue may write.
amounts = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(1, 10**12),
    st.integers(0, 12),
)
# Hypothesis bounds naive times, then gives them the zone.
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(whole_ms)
method_names = st.sampled_from(list(METHODS))
symbols = st.from_regex(r"[A-Z0-9]{2,20}", fullmatch=True)
# Any text, line breaks and quotes included: none may break a format's framing.
texts = st.text(max_size=40)
maybe = st.none().__or__
# A used source always has a price; an excluded one, maybe not.


def _sources(status: str, price: st.SearchStrategy) -> st.SearchStrategy:
    # Built to shape, not filtered: a used source always has a price.
    return st.builds(
        Source,
        texts,
        st.just(status),
        reason=maybe(texts),
        detail=maybe(texts),
        price=price,
        bid=maybe(amounts),
        ask=maybe(amounts),
        volume=maybe(amounts),
        quoted_at=maybe(moments),
    )


used = _sources("used", amounts)
sources = used | _sources("excluded", maybe(amounts))
prices = st.builds(
    AggregatedPrice,
    asset=symbols,
    price=amounts,
    method=method_names,
    last_updated=moments,
    aggregated_at=moments,
    sources=st.tuples(used, sources, sources),
)
failures = st.builds(
    RefreshFailure, symbols, moments, texts, st.lists(sources, max_size=3).map(tuple)
)
points = st.builds(HistoryPoint, moments, amounts, method_names, st.integers(0, 9))
candles = st.builds(Candle, moments, amounts, amounts, amounts, amounts, st.integers(1, 10**6))
quotes = st.tuples(*[maybe(amounts)] * 4)


@given(prices)
def test_a_published_price_reads_back_with_its_document_as_rendered(price):
    kept = codec.decode_published(codec.encode_published(price))
    assert kept == codec.published(price)
    assert (kept.asset, kept.method) == (price.asset, price.method)
    assert (kept.aggregated_ms, kept.updated_ms) == (
        epoch_ms(price.aggregated_at),
        epoch_ms(price.last_updated),
    )
    assert kept.document == render_price(price)


@given(failures)
def test_a_failure_reads_back_with_its_document_and_detail(failure):
    kept = codec.decode_failure(codec.encode_failure(failure))
    assert (kept.asset, kept.at_ms) == (failure.asset, epoch_ms(failure.at))
    assert kept.document == render_failure(failure)
    assert kept.detail == failure.detail


@given(prices)
def test_a_price_record_reads_back_as_the_price(price):
    assert codec.decode_record(codec.encode_record(price)) == price


@given(st.lists(prices, max_size=3))
def test_a_batch_of_records_reads_back_as_the_prices_in_order(batch):
    assert codec.decode_records(codec.encode_records(batch)) == batch


@given(points)
def test_a_point_entry_reads_back_as_the_point_and_says_its_time(point):
    at, entry = codec.decode_entries([codec.encode_point(point)])[0]
    assert codec.point(entry) == point
    assert at == epoch_ms(point.time)


@given(candles)
def test_a_candle_entry_reads_back_as_the_candle_and_says_its_start(candle):
    at, entry = codec.decode_entries([codec.encode_candle(candle)])[0]
    assert codec.candle(entry) == candle
    assert at == epoch_ms(candle.start)


def test_the_end_of_a_list_is_timed_before_any_point():
    assert (
        codec.decode_entries([codec.encode_beginning()])[0][0]
        == codec.BEGINNING_MS
        < epoch_ms(datetime(1, 1, 1, tzinfo=UTC))
    )


@given(points, st.fixed_dictionaries({name: candles for name in INTERVALS}))
def test_a_memo_reads_back_as_its_point_and_candles(point, folded):
    assert codec.decode_memo(codec.encode_memo(point, folded)) == (point, folded)


@given(quotes, st.integers(0, 2**53))
def test_an_unchanged_quote_reads_back_with_its_time(quote, since_ms):
    assert codec.decode_unchanged(codec.encode_unchanged(quote, since_ms)) == (quote, since_ms)


@given(st.lists(symbols, max_size=5))
def test_symbols_read_back_in_order(names):
    assert codec.decode_symbols(codec.encode_symbols(names)) == names


def test_a_published_price_is_a_json_header_line_then_its_document():
    price = AggregatedPrice(
        "BTCUSDT",
        Decimal("1.5"),
        "vwap",
        datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC),
        datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC),
        (Source("binance", "used", detail="two\nlines", price=Decimal("1.5"), volume=Decimal(1)),),
    )
    header, document = codec.encode_published(price).split(b"\n")
    assert json.loads(header) == {
        "asset": "BTCUSDT",
        "aggregated_ms": 1795608001000,
        "updated_ms": 1795608000250,
        "method": "vwap",
    }
    assert json.loads(document)["sources"][0]["detail"] == "two\nlines"


@given(texts, st.sets(symbols, max_size=4), st.dictionaries(texts, st.floats(0.1, 3600)))
def test_a_schedule_state_reads_back_and_encodes_equal_states_alike(version, promoted, tiers):
    encoded = codec.encode_synced(version, promoted, tiers)
    assert codec.decode_synced(encoded) == (version, sorted(promoted), tiers)
    assert codec.encode_synced(version, sorted(promoted, reverse=True), tiers) == encoded


@pytest.mark.parametrize(
    ("decode", "value"),
    [
        # The forms older versions kept.
        (codec.decode_published, b'[1795608001000,1795608000250,"vwap",{"asset":"BTCUSDT"}]'),
        (codec.decode_failure, b'[1795608001000,{"at":"2026-11-25T12:00:01Z"}]'),
        (codec.decode_memo, b'1795608001000 ["1.5","vwap",3]\n{"1m":"1795608000000 [1]"}'),
        (codec.decode_entries, [b'1795608001000 ["1.5","vwap",3]']),
        (codec.decode_entries, [b'[1795608000000,"1","2","0.5","1.5",3]', b"1795608000000 [1]"]),
        (codec.decode_unchanged, b'{"fingerprint":"1 1 1 1","since":1795608001000}'),
        (codec.decode_synced, b'{"version":"1"}'),
        # And what is not PriceHub's at all.
        (codec.decode_published, b'{"asset":"BTCUSDT"}'),
        (codec.decode_record, b"[]"),
        (codec.decode_records, b"{}"),
        (codec.decode_entries, [b'{"at":1795608001000}']),
        (codec.decode_symbols, b'{"BTCUSDT":1}'),
        (codec.decode_entries, [b"[null]"]),
        (codec.decode_entries, [b"[]"]),
        (codec.decode_entries, [b"1795608000000, 1795608000000"]),
    ],
)
def test_a_value_of_another_form_is_undecodable(decode, value):
    with pytest.raises(codec.Undecodable):
        decode(value)


@pytest.mark.parametrize(
    ("read", "value"),
    [
        (codec.point, b'[1795608001000,"1e","vwap",3]'),
        (codec.point, b"[1795608001000]"),
        (codec.candle, b'[1795608001000,"1.5","vwap",3]'),
    ],
)
def test_an_entry_of_another_form_is_undecodable_once_read(read, value):
    [(_, entry)] = codec.decode_entries([value])
    with pytest.raises(codec.Undecodable):
        read(entry)
