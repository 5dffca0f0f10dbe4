"""Database layer: ORM models, engine set-up, schema migrations."""
