"""Storage: the database engine, the schema, migrations (and later the blob store)."""
