"""What every PriceHub app shares: the API error type and the metrics."""
