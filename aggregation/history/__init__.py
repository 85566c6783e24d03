"""Price history in DynamoDB, with its recent past in Redis (aggregation/recent.py).

client: the DynamoDB client and the two tables (the only module that imports boto3); items:
points and candles as DynamoDB items; store: recording points with their candles; reads:
pages of points, candles and the latest point; backlog: the prices waiting to be recorded,
which a refresh hands over without waiting, and the drain that records them.
"""
