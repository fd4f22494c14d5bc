"""The Bluesky reference servers (``@atproto/dev-env``) run from the tests; see ``network``."""
