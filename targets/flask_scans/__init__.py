"""flask_scans: a Flask scan service written the way a product team writes one.

Not the reference service: its own routes (`/api/scans`), its own Redis keys (`scans:*`), its
own status words (`running`, `done`, `stopped_early`, `error`) and reply shape, SQLAlchemy ORM
models for its strategy data, and a cleanup thread per worker. It runs under Gunicorn with sync
workers; `targets/flask_scans/target.toml` tells the harness how to drive it. See README.md.

Modules: `settings` (everything from the environment), `scans` (the scan manager: Redis,
worker memory, cleanup), `strategies` (the strategy table and the market-data stand-in),
`app` (the Flask app factory), `wsgi` (the module Gunicorn loads).

This module imports nothing, so that finding `flask_scans.wsgi` needs no Flask.
"""
