"""The pipeline: its stages (poll, score, draft, send), their actors, broker and scheduler.

May import insights, replies, brands, ops, contracts, the store and settings; never above.
"""
