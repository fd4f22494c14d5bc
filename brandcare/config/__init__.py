"""Settings from the environment (``settings``) and the names of per-brand variables.

Imports nothing else of the app, so every part may import it.
"""

from brandcare.config.settings import ProfileSecrets, Settings

__all__ = ["ProfileSecrets", "Settings"]
