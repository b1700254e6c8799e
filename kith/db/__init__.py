"""Database platform: engine and sessions, declarative base, column types, migrations."""
