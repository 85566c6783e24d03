"""GET /stream's OpenAPI description, which pricehub/settings.py appends to the schema: the
stream is an async Django view, which the schema generator does not see."""

STREAM_SCHEMA = {
    "get": {
        "operationId": "stream_retrieve",
        "summary": "Server-Sent Events of every price published for the assets named",
        "description": (
            "One `price` event per published aggregation of each asset, its data the "
            "document GET /prices/{asset} answers, its id the aggregation time in "
            "epoch ms. A new connection gets the current prices at once; one with "
            "Last-Event-ID those newer than it. A comment line every 15 s keeps it "
            "open. Served by the stream server, to which PriceHub's front routes it. "
            "The same validation and limits as GET /prices?assets=."
        ),
        "tags": ["stream"],
        "parameters": [
            {
                "name": "assets",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": "Comma-separated symbols, at most 50: BTCUSDT,ETHUSDT",
            },
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": {
                "description": "The event stream",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "A malformed batch: invalid_request, too_many_assets, invalid_asset"
            },
            "404": {"description": "unknown_asset"},
            "429": {
                "description": "too_many_streams: as many streams are open from this "
                "client (an IPv4 address or IPv6 /64) or in all as the front takes"
            },
        },
    }
}
