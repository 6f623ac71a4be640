"""Which worker does the background work that must run once, not once in each of several.

On PostgreSQL the leader is the worker holding a session advisory lock, on a connection of its
own: not one of Django's, which are closed and opened again between requests (and would let the
lock go with them). The lock lives as long as that connection: PostgreSQL releases it the
moment the leader's process dies (its socket closes, SIGKILL included), or, if its host
vanishes, once TCP keepalives find the connection dead (about 25 s, set below). The others try
each tick, so one takes over within one tick of that. A leader that loses its connection steps
down at its next tick; until then two may sweep, which the sweep's work allows (each step is a
guarded UPDATE; an answer is at most sent twice, which the client ignores).

On SQLite the server is one process: it leads. The connection's application_name names the
worker, so `pg_stat_activity` shows who leads.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any number, the same in every worker ("STUDIO" in ASCII). Advisory
# locks are per database, so two studios on one server do not share it.
LOCK_KEY = 0x53_54_55_44_49_4F
# Server-side keepalives of the lock's connection: a leader whose host is gone without closing
# it lets the lock go after idle + interval × count seconds.
KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def leadership(worker_id):
    """The leadership of this worker over the others using the default database."""
    wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
    if wrapper.vendor != "postgresql":
        return OneProcess()
    params = wrapper.get_connection_params()
    params["application_name"] = f"studio leader {worker_id}"[:63]
    return AdvisoryLock(params)


class OneProcess:
    """SQLite: the server is one process, which leads."""

    def held(self):
        return True

    def release(self):
        pass


class AdvisoryLock:
    """`held()` says whether this worker leads, trying to become the leader if none does.

    Synchronous (database I/O): call it from one thread, the sweeper's. `params` are psycopg's
    connection keywords."""

    def __init__(self, params):
        self.params = params
        self._connection = None
        self._leading = False

    def held(self):
        try:
            if self._connection is None:
                self._connection = self._connect()
            if self._leading:
                # Still ours as long as the session that took it answers.
                self._connection.execute("SELECT 1")
            else:
                [(self._leading,)] = self._connection.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchall()
        except Exception:  # the database is away: not leading, try again next tick
            log.exception("cannot reach the database to lead (%s)", self.params.get("application_name"))
            self.release()
        return self._leading

    def release(self):
        """Stop leading (closing the connection lets the lock go)."""
        connection, self._connection, self._leading = self._connection, None, False
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass

    def _connect(self):
        import psycopg

        connection = psycopg.connect(**self.params, autocommit=True)
        for name, value in KEEPALIVES.items():
            connection.execute(f"SET {name} = {int(value)}")
        return connection
