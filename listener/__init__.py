"""Platform sources: poll brand mentions since a cursor and post replies.

Sources return values and never touch the database, the queue or the scorer.
"""
