/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  libpq sessions to other instances (and to template1 of this one)
 *	  that a deadline ends and an interrupt cancels: the catalog views'
 *	  remote reads (catalog.c) and FTS (fts.c) share them.
 *
 * libpq's blocking calls (PQconnectdb, PQexec) wait in poll() and retry
 * on EINTR: a backend inside one ignores statement_timeout and
 * pg_cancel_backend(), and a stalled remote instance holds it for good.
 * These wait on the socket and the process latch together, with a
 * deadline, and run CHECK_FOR_INTERRUPTS() whenever the latch is set, so
 * that a cancel, a timeout or a terminate ends the wait (as an ERROR or
 * FATAL, after the connection or the partial result is released).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "gp_compat.h"

/* gp_compat.remote_query_timeout: seconds a remote catalog read may take */
int			gp_compat_remote_query_timeout = 30;

void
gp_compat_remote_init(void)
{
	DefineCustomIntVariable("gp_compat.remote_query_timeout",
							"Seconds a catalog view may wait for another instance (or for template1) to answer a query.",
							"gp_stat_replication skips a primary that does not answer in time (WARNING); "
							"the segment catalog views fail.",
							&gp_compat_remote_query_timeout,
							30,
							1, 3600,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * Wait until conn's socket is ready for io (WL_SOCKET_READABLE or
 * WL_SOCKET_WRITEABLE) or deadline passes (false).  Interrupts are
 * serviced while waiting; they may throw.
 */
static bool
wait_socket(PGconn *conn, int io, TimestampTz deadline)
{
	for (;;)
	{
		long		remaining;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			return false;
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | io,
							   PQsocket(conn), remaining, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & io)
			return true;
	}
}

/* a result that is not an error */
static bool
result_ok(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_TUPLES_OK ||
		PQresultStatus(res) == PGRES_COMMAND_OK;
}

/*
 * Connect with the keyword/value pairs (NULL-terminated) within timeout_s
 * seconds.  NULL with *error set on failure; an interrupt throws after the
 * connection attempt is abandoned.
 */
PGconn *
gp_compat_remote_connect(const char *const *keywords, const char *const *values,
						 int timeout_s, char **error)
{
	PGconn	   *volatile conn;
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	TimestampTz deadline;

	conn = PQconnectStartParams(keywords, values, false);
	if (conn == NULL)
	{
		*error = pstrdup("out of memory");
		return NULL;
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_s * 1000);
	PG_TRY();
	{
		while (PQstatus(conn) != CONNECTION_BAD && status != PGRES_POLLING_OK &&
			   status != PGRES_POLLING_FAILED)
		{
			if (!wait_socket(conn, status == PGRES_POLLING_READING ?
							 WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE, deadline))
			{
				*error = psprintf("timeout expired after %d s", timeout_s);
				PQfinish(conn);
				conn = NULL;
				break;
			}
			status = PQconnectPoll(conn);
		}
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (conn != NULL && status != PGRES_POLLING_OK)
	{
		*error = pchomp(PQerrorMessage(conn));
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

/*
 * Run sql on conn within timeout_s seconds, with nparams text parameters
 * ($1, ...; none: sql may hold several statements).  Returns the last
 * result if it is PGRES_TUPLES_OK or PGRES_COMMAND_OK (the caller
 * PQclear()s it), else NULL with *error set (the first error).  On a
 * timeout the query may still run remotely: close conn.  An interrupt
 * throws; conn stays the caller's to close.
 */
PGresult *
gp_compat_remote_exec(PGconn *conn, const char *sql, int nparams,
					  const char *const *params, int timeout_s, char **error)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_s * 1000);
	PGresult   *volatile last = NULL;
	char	   *failure = NULL;
	int			sent;

	sent = nparams > 0 ?
		PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) :
		PQsendQuery(conn, sql);
	if (!sent)
	{
		*error = pchomp(PQerrorMessage(conn));
		return NULL;
	}
	PG_TRY();
	{
		for (;;)
		{
			PGresult   *res;

			while (failure == NULL && PQisBusy(conn))
			{
				if (!wait_socket(conn, WL_SOCKET_READABLE, deadline))
					failure = psprintf("timeout expired after %d s", timeout_s);
				else if (!PQconsumeInput(conn))
					failure = pchomp(PQerrorMessage(conn));
			}
			if (failure != NULL)
				break;
			res = PQgetResult(conn);
			if (res == NULL)
				break;
			if (last == NULL || result_ok(last))
			{
				PQclear(last);
				last = res;
			}
			else
				PQclear(res);	/* keep the first error */
		}
	}
	PG_CATCH();
	{
		PQclear(last);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (failure != NULL)
	{
		PQclear(last);
		*error = failure;
		return NULL;
	}
	if (last == NULL)
	{
		*error = pstrdup("no result");
		return NULL;
	}
	if (!result_ok(last))
	{
		*error = pchomp(PQresultErrorMessage(last));
		PQclear(last);
		return NULL;
	}
	return last;
}

/* gp_compat_remote_exec() for a statement whose result does not matter */
bool
gp_compat_remote_command(PGconn *conn, const char *sql, int nparams,
						 const char *const *params, int timeout_s, char **error)
{
	PGresult   *res = gp_compat_remote_exec(conn, sql, nparams, params, timeout_s, error);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}
