"""Which database the suite runs on: SQLite (make test) or PostgreSQL (make test-team)."""

import os

import pytest

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

# For what only SQLite has: its page cache, its JSON text, the WAL.
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's own behaviour; the team's PostgreSQL has none of it")

# For races only a database with concurrent writers has: on SQLite studio.db.writing() takes
# writes one at a time, and the in-memory test database cannot be shared by threads.
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="concurrent writers: PostgreSQL only")

# An async view's database work goes through Channels' database_sync_to_async, and the gRPC
# handler's thread calls close_old_connections() itself: both close a connection they find
# inside a transaction. A test's own transaction is one: on SQLite's in-memory test database
# closing is a no-op, on PostgreSQL it loses the connection. Such tests use real transactions.
through_async_views = pytest.mark.django_db(transaction=True)
