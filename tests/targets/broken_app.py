"""A WSGI app that cannot start: its import fails, as an app missing a setting's does."""

raise RuntimeError("broken_app cannot start: BROKEN_APP_URL is not set")
