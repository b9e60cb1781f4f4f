"""The portal's SQL data: models, engine, migrations (SQLite by default, PostgreSQL by URL)."""
