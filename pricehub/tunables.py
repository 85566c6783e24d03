"""PriceHub's own tunables: each a PRICEHUB_ setting (pricehub/settings.py imports them all),
read from the environment variable named in it, with a sane default.

Each is listed in the configuration table of docs/operations.md.
"""

from __future__ import annotations

import environ

env = environ.Env()

# DynamoDB calls: timeouts of one call; the calls of a batch run this many at once in a
# process, each with a connection; a batch write retries the items DynamoDB left out (as it
# does when throttled) this many times in all.
PRICEHUB_DYNAMODB_CONNECT_TIMEOUT_SECONDS = env.float(
    "DYNAMODB_CONNECT_TIMEOUT_SECONDS", default=2.0
)
PRICEHUB_DYNAMODB_READ_TIMEOUT_SECONDS = env.float("DYNAMODB_READ_TIMEOUT_SECONDS", default=5.0)
PRICEHUB_DYNAMODB_CONCURRENT_CALLS = env.int("DYNAMODB_CONCURRENT_CALLS", default=16)
PRICEHUB_DYNAMODB_BATCH_ATTEMPTS = env.int("DYNAMODB_BATCH_ATTEMPTS", default=4)
# Whether a process creates the history tables it finds missing, as DynamoDB Local needs;
# production settings say no: the infrastructure code makes them (deploy/aws), and a missing
# table is an error of /readyz and the logs, never a CreateTable call.
PRICEHUB_DYNAMODB_CREATE_TABLES = env.bool("DYNAMODB_CREATE_TABLES", default=True)
# Each asset's newest points, and candles of each interval, kept in Redis for the history and
# candle reads (aggregation/recent.py); the candles twice the default range of a request.
PRICEHUB_RECENT_POINTS = env.int("RECENT_POINTS", default=1000)
PRICEHUB_RECENT_CANDLES = env.int("RECENT_CANDLES", default=200)

# Refresh interval of each tier, in seconds; the beat's tick queues what is due.
PRICEHUB_TIER_SECONDS = {
    "hot": env.float("REFRESH_HOT_SECONDS", default=1.0),
    "medium": env.float("REFRESH_MEDIUM_SECONDS", default=10.0),
    "cold": env.float("REFRESH_COLD_SECONDS", default=60.0),
}
# Whether exchange base URLs may point to private, loopback or link-local addresses: yes in
# development, where the simulated venues listen on loopback; production settings say no.
# A host VENUE_PRIVATE_HOSTS names may be on one whatever this says: the simulated venues of
# the compose stack, and no other service of its network (exchanges/targets.py).
PRICEHUB_VENUE_PRIVATE_ADDRESSES = env.bool("VENUE_PRIVATE_ADDRESSES", default=True)
PRICEHUB_VENUE_PRIVATE_HOSTS = [
    host.lower() for host in env.list("VENUE_PRIVATE_HOSTS", default=[])
]
# Whether a venue on a public address is asked over https only: the production settings say so.
PRICEHUB_VENUE_HTTPS_ONLY = False
# How long a venue host's DNS answer is kept; each connection goes to an address of the answer
# that was checked, never to a second answer.
PRICEHUB_VENUE_RESOLVE_SECONDS = env.float("VENUE_RESOLVE_SECONDS", default=30.0)
# Quotes older than this by the venue's own clock are excluded as stale.
PRICEHUB_MAX_QUOTE_AGE_SECONDS = env.float("MAX_QUOTE_AGE_SECONDS", default=30.0)
# How much a usable quote counts in a moving market (aggregation/trust.py): a venue's last good
# quote, kept in when its answer failed, loses half its weight every this many seconds of its
# age; a quote this many basis points from the median keeps half its weight.
PRICEHUB_KEPT_QUOTE_HALF_LIFE_SECONDS = env.float("KEPT_QUOTE_HALF_LIFE_SECONDS", default=2.0)
PRICEHUB_AGREEMENT_TOLERANCE_BPS = env.float("AGREEMENT_TOLERANCE_BPS", default=3.0)
# The currencies PriceHub converts markets through, each with its rate: the price of the asset
# USDTUSD, USDCUSD, ... (aggregation/conversion.py); a rate older than this excludes the
# markets that need it.
PRICEHUB_RATE_CURRENCIES = env.list("RATE_CURRENCIES", default=["USDT", "USDC", "EUR"])
PRICEHUB_RATE_MAX_AGE_SECONDS = env.float("RATE_MAX_AGE_SECONDS", default=10.0)
# History gets a point when the price moved more than this percentage since the last point,
# or when this many seconds passed; Redis always has the latest price.
PRICEHUB_HISTORY_DEVIATION_PERCENT = env.float("HISTORY_DEVIATION_PERCENT", default=0.05)
PRICEHUB_HISTORY_HEARTBEAT_SECONDS = env.float("HISTORY_HEARTBEAT_SECONDS", default=60.0)
# A refresh hands its prices to a backlog in Redis and goes on; the worker of the `history`
# queue records them (aggregation/history/backlog.py). The beat starts a drain this often;
# a drain records until none wait, or for this long at most. One process drains at a time,
# under a lock it renews before each round for DRAIN_LOCK_SECONDS, which must outlast a round
# against a slow DynamoDB: a drainer that dies holds the others off that long at most.
PRICEHUB_HISTORY_DRAIN_EVERY_SECONDS = env.float("HISTORY_DRAIN_EVERY_SECONDS", default=1.0)
PRICEHUB_HISTORY_DRAIN_SECONDS = env.float("HISTORY_DRAIN_SECONDS", default=10.0)
PRICEHUB_HISTORY_DRAIN_LOCK_SECONDS = env.int("HISTORY_DRAIN_LOCK_SECONDS", default=60)
# A drain reads this many waiting prices from Redis at a time and records them in rounds of at
# most this many, each asset's once: a few DynamoDB calls of each kind per round.
PRICEHUB_HISTORY_DRAIN_READ = env.int("HISTORY_DRAIN_READ", default=2000)
PRICEHUB_HISTORY_DRAIN_ROUND = env.int("HISTORY_DRAIN_ROUND", default=500)
# Every PROMOTION_SECONDS the HOT_PROMOTIONS most requested assets are refreshed as hot,
# whatever their tier; request counts halve at each promotion, so recent demand counts most.
PRICEHUB_HOT_PROMOTIONS = env.int("HOT_PROMOTIONS", default=3)
PRICEHUB_PROMOTION_SECONDS = env.float("PROMOTION_SECONDS", default=60.0)
# A price is stale once older than this many refresh intervals of its tier, and never sooner
# than STALE_FLOOR_SECONDS.
PRICEHUB_STALE_AFTER_INTERVALS = env.int("STALE_AFTER_INTERVALS", default=3)
PRICEHUB_STALE_FLOOR_SECONDS = env.float("STALE_FLOOR_SECONDS", default=5.0)
# How long the latest price stays in Redis: far longer than any interval, so a stalled
# refresh shows as `stale` instead of a missing price.
PRICEHUB_CACHE_TTL_SECONDS = env.int("PRICE_CACHE_TTL_SECONDS", default=3600)
# How long a web process answers from its own copy of a price and of the promotions before
# asking Redis again (a quarter of the hot interval); 0 asks on every read.
PRICEHUB_READ_COPY_SECONDS = env.float(
    "READ_COPY_SECONDS", default=PRICEHUB_TIER_SECONDS["hot"] / 4
)
# How long a web process keeps the newest history point (or its absence) of an asset Redis
# has no price for, so such reads ask DynamoDB that often at most.
PRICEHUB_HISTORY_COPY_SECONDS = env.float("HISTORY_COPY_SECONDS", default=5.0)
# A worker of the API's server answers on several threads, which take turns on Python's one
# lock: a thread ready to answer waits this long at most for the one running to let go of it.
# Python's 5 ms default made the hot GET's p99 about a sixth longer (docs/benchmarks.md).
PRICEHUB_WEB_SWITCH_INTERVAL_SECONDS = env.float("WEB_SWITCH_INTERVAL_SECONDS", default=0.001)
# Each process keeps the asset table; an edit through the admin or the ORM reaches every
# process at its next read, any other edit (bulk updates, SQL) within this many seconds.
PRICEHUB_ASSET_TABLE_SECONDS = env.float("ASSET_TABLE_SECONDS", default=10.0)
# Reads are counted in process and added to the shared demand counts this often.
PRICEHUB_DEMAND_FLUSH_SECONDS = env.float("DEMAND_FLUSH_SECONDS", default=1.0)
# What a process's reads add to the metrics is written to the shared ones this long after the
# first of it (and when the process is scraped).
PRICEHUB_METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=1.0)
# A port on which each Celery worker serves its metrics (none by default: under `make run` the
# web's /metrics shows every process of the host).
PRICEHUB_WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=None)
# Connect timeout for venue requests; the read timeout is each Exchange row's own.
PRICEHUB_CONNECT_TIMEOUT_SECONDS = env.float("EXCHANGE_CONNECT_TIMEOUT_SECONDS", default=1.0)
# A ticker is a few hundred bytes; a venue's answer far larger is refused as no ticker. A bulk
# answer may take VENUE_MAX_BYTES_PER_PAIR more per ticker it may hold: per pair asked for, or
# per market up to 1,000 from a venue whose bulk answer holds every market (OKX, Bybit, Bitstamp).
PRICEHUB_VENUE_MAX_RESPONSE_BYTES = env.int("VENUE_MAX_RESPONSE_BYTES", default=256 * 1024)
PRICEHUB_VENUE_MAX_BYTES_PER_PAIR = env.int("VENUE_MAX_BYTES_PER_PAIR", default=2 * 1024)
# Each venue's catalogue of markets is read this often, and on demand (manage.py sync_markets,
# the admin); Binance's is about 15 MB, so a read may take this long and this many bytes.
PRICEHUB_CATALOGUE_SECONDS = env.float("CATALOGUE_SECONDS", default=3600.0)
# A catalogue that could not be read is read again this much later, then twice as late each time.
PRICEHUB_CATALOGUE_RETRY_SECONDS = env.float("CATALOGUE_RETRY_SECONDS", default=10.0)
PRICEHUB_CATALOGUE_TIMEOUT_SECONDS = env.float("CATALOGUE_TIMEOUT_SECONDS", default=30.0)
PRICEHUB_CATALOGUE_MAX_BYTES = env.int("CATALOGUE_MAX_BYTES", default=64 * 1024 * 1024)
# Each venue's documented rate limit (exchanges/limits.py) is kept by every process together;
# off only for a benchmark of PriceHub's own capacity against venues that do not limit.
PRICEHUB_VENUE_LIMITS = env.bool("VENUE_LIMITS", default=True)
# The share of each venue's budget that only the hot assets' calls may take.
PRICEHUB_VENUE_HOT_RESERVE = env.float("VENUE_HOT_RESERVE", default=0.3)
# How long a hot call waits for room in its venue's budget before its last good quote stands
# in: a hot round publishes on time. Other calls wait until their round's deadline.
PRICEHUB_VENUE_HOT_WAIT_SECONDS = env.float("VENUE_HOT_WAIT_SECONDS", default=0.25)
# Once the venue's own count of what PriceHub used (Binance's used weight) comes within this
# share of its limit, no call is made to it until its window ends.
PRICEHUB_VENUE_USED_MARGIN = env.float("VENUE_USED_MARGIN", default=0.05)
# New assets of one interval fall due at most this many a second (a batch's worth), spread
# over the interval, so many added at once do not come back together every interval.
PRICEHUB_NEW_ASSETS_PER_SECOND = env.float("NEW_ASSETS_PER_SECOND", default=100.0)
# The largest CSV file the admin's asset import takes.
PRICEHUB_ASSET_IMPORT_MAX_BYTES = env.int("ASSET_IMPORT_MAX_BYTES", default=1_000_000)
# /readyz: a dead or hung backend fails its check after this long, well within an
# orchestrator's probe timeout.
PRICEHUB_HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=1.5)

# The beat's tick and the refresh batches it queues (aggregation/tasks.py). The beat ticks this
# often: a tick costs a few Redis commands whatever the number of assets, and a tick coming
# late (Celery beat's timing is loose) delays a refresh by a tick at most.
PRICEHUB_BEAT_TICK_SECONDS = env.float("BEAT_TICK_SECONDS", default=0.5)
# A bound on one tick's work, far above what 10,000 assets make due in a second.
PRICEHUB_MAX_DUE_PER_TICK = env.int("MAX_DUE_PER_TICK", default=5000)
# Assets refreshed by one task: each venue is asked for them in as few calls as it allows.
PRICEHUB_REFRESH_BATCH_SIZE = env.int("REFRESH_BATCH_SIZE", default=100)
# A batch's round gives its venues this share of the tier's interval, within these bounds: a
# cold round waiting long on a slow venue would hold a worker thread the hot rounds need.
PRICEHUB_ROUND_SHARE = env.float("ROUND_SHARE", default=0.8)
PRICEHUB_ROUND_MIN_SECONDS = env.float("ROUND_MIN_SECONDS", default=0.5)
PRICEHUB_ROUND_MAX_SECONDS = env.float("ROUND_MAX_SECONDS", default=2.0)
# POST /refresh answers a price younger than this as it is, asking no venue; and while the
# asset's refresh is already running it waits for that round's price, this long at most.
PRICEHUB_REFRESH_FRESH_SECONDS = env.float("REFRESH_FRESH_SECONDS", default=1.0)
PRICEHUB_REFRESH_WAIT_SECONDS = env.float("REFRESH_WAIT_SECONDS", default=10.0)
# GET /stream sends a comment line this often, so proxies keep a quiet stream open.
PRICEHUB_STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=15.0)
# The origins (https://example.com) whose pages may read GET /stream from another origin; none
# by default, as the dashboard is on PriceHub's own.
PRICEHUB_STREAM_ALLOWED_ORIGINS = env.list("STREAM_ALLOWED_ORIGINS", default=[])
