/*-------------------------------------------------------------------------
 *
 * fts.c
 *	  Greenplum's fault tolerance service (FTS) for the compat coordinator:
 *	  a background worker that probes every primary that has a mirror,
 *	  promotes an in-sync mirror when its primary is down, marks a mirror
 *	  that stopped streaming down (after a grace period) and switches its
 *	  primary's synchronous replication off, and marks the pair in sync
 *	  again (synchronous replication back on) when the mirror has caught up.
 *	  Every catalog change of a round is written in one transaction, with
 *	  Greenplum's gp_configuration_history rows.
 *
 * Greenplum's FTS asks each primary for its mirror's state with an FTS
 * message; here the worker reads the primary's pg_stat_replication over a
 * utility-mode libpq session and does on the primary what Greenplum's
 * primary does on an FTS message (ALTER SYSTEM SET synchronous_standby_names
 * and pg_reload_conf()).  A mirror is promoted with "pg_ctl promote" on its
 * data directory: the compat test bed is one machine.
 *
 * The worker connects to no database.  It reads and writes the segment
 * catalog over a short libpq session to template1 of its own instance: a
 * session kept open on template1 would make CREATE DATABASE fail.
 *
 * gp_request_fts_probe_scan() (catalog.c) calls gp_compat_fts_request(),
 * which wakes the worker and waits for a whole round that started after
 * the request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/condition_variable.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "gp_compat.h"

/* Greenplum's gp_segment_configuration value codes */
#define ROLE_PRIMARY	'p'
#define ROLE_MIRROR		'm'
#define MODE_INSYNC		's'
#define MODE_NOTINSYNC	'n'
#define STATUS_UP		'u'
#define STATUS_DOWN		'd'

/* Greenplum's constants */
#define GP_WALRECEIVER_APPNAME	"gp_walreceiver"
#define GP_REPLICATION_SLOT		"internal_wal_replication_slot"

/*
 * What Greenplum's primary sets synchronous_standby_names to while its
 * mirror is up (gp6-observed: '*' on a primary with a live mirror, '' after
 * FTS marked the mirror down).
 */
#define SYNC_STANDBY_NAMES_ON	"*"

/* Time between two attempts to reach a primary (Greenplum's: 1 s) */
#define PROBE_RETRY_DELAY_MS	1000

/* How long gp_request_fts_probe_scan() waits for a round at most */
#define REQUEST_WAIT_LIMIT_MS	(10 * 60 * 1000)

/* Settings (gp_compat.fts_*) */
static int	fts_probe_interval = 60;	/* s */
static int	fts_probe_timeout = 20; /* s */
static int	fts_probe_retries = 5;
static int	fts_mark_mirror_down_grace_period = 30; /* s */

/* Read-only undotted names, for SHOW */
static int	show_probe_interval_guc;
static int	show_probe_timeout_guc;
static int	show_probe_retries_guc;
static int	show_grace_period_guc;

/* Shared state between the worker and the requesters */
typedef struct FtsShmem
{
	slock_t		mutex;
	uint64		requested;		/* requests made so far */
	uint64		started_for;	/* "requested" when the last round started */
	uint64		done_for;		/* "requested" when the last finished round
								 * started */
	uint64		rounds_done;
	Latch	   *latch;			/* the worker's, NULL when none runs */
	pid_t		pid;
	ConditionVariable cv;		/* broadcast at the end of each round */
} FtsShmem;

static FtsShmem *fts_shmem = NULL;

/* set in the postmaster, inherited by every backend */
static bool fts_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void gp_compat_fts_main(Datum main_arg);

/* ------------------------------------------------------------------------
 * Settings, shared memory, registration
 * ------------------------------------------------------------------------
 */

static const char *
show_probe_interval(void)
{
	return psprintf("%ds", fts_probe_interval);
}

static const char *
show_probe_timeout(void)
{
	return psprintf("%ds", fts_probe_timeout);
}

static const char *
show_probe_retries(void)
{
	return psprintf("%d", fts_probe_retries);
}

static const char *
show_grace_period(void)
{
	return psprintf("%ds", fts_mark_mirror_down_grace_period);
}

static void
fts_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FtsShmem)));
}

static void
fts_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fts_shmem = ShmemInitStruct("gp_compat fts", sizeof(FtsShmem), &found);
	if (!found)
	{
		MemSet(fts_shmem, 0, sizeof(FtsShmem));
		SpinLockInit(&fts_shmem->mutex);
		ConditionVariableInit(&fts_shmem->cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Called from _PG_init() in the postmaster, before the gp_compat prefix is
 * reserved: the settings and the shared memory.  The worker runs only on a coordinator started in dispatch mode
 * (Greenplum starts its ftsprobe process only then), and only once recovery
 * has finished: a standby coordinator starts it when it is promoted.
 */
void
gp_compat_fts_init(void)
{
	DefineCustomIntVariable("gp_compat.fts_probe_interval",
							"Time between two FTS probe rounds (Greenplum's gp_fts_probe_interval).",
							NULL,
							&fts_probe_interval,
							60, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gp_compat.fts_probe_timeout",
							"Time FTS waits for a primary to answer one probe (Greenplum's gp_fts_probe_timeout).",
							NULL,
							&fts_probe_timeout,
							20, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gp_compat.fts_probe_retries",
							"Number of times FTS retries a failed probe before it considers a primary down (Greenplum's gp_fts_probe_retries).",
							NULL,
							&fts_probe_retries,
							5, 0, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gp_compat.fts_mark_mirror_down_grace_period",
							"Time a mirror may be disconnected before FTS marks it down (Greenplum's gp_fts_mark_mirror_down_grace_period).",
							NULL,
							&fts_mark_mirror_down_grace_period,
							30, 0, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/* Greenplum's names, read-only: postgresql.conf takes the dotted ones */
	DefineCustomIntVariable("gp_fts_probe_interval",
							"Shows gp_compat.fts_probe_interval.", NULL,
							&show_probe_interval_guc, 0, 0, INT_MAX,
							PGC_INTERNAL, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, show_probe_interval);
	DefineCustomIntVariable("gp_fts_probe_timeout",
							"Shows gp_compat.fts_probe_timeout.", NULL,
							&show_probe_timeout_guc, 0, 0, INT_MAX,
							PGC_INTERNAL, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, show_probe_timeout);
	DefineCustomIntVariable("gp_fts_probe_retries",
							"Shows gp_compat.fts_probe_retries.", NULL,
							&show_probe_retries_guc, 0, 0, INT_MAX,
							PGC_INTERNAL, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, show_probe_retries);
	DefineCustomIntVariable("gp_fts_mark_mirror_down_grace_period",
							"Shows gp_compat.fts_mark_mirror_down_grace_period.", NULL,
							&show_grace_period_guc, 0, 0, INT_MAX,
							PGC_INTERNAL, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, show_grace_period);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = fts_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = fts_shmem_startup;
}

/*
 * Called at the end of _PG_init(), once the identity and the postmaster's
 * role are known.
 */
void
gp_compat_fts_register(void)
{
	BackgroundWorker worker;
	Dl_info		info;

	if (GpIdentity_segindex != MASTER_CONTENT_ID ||
		Gp_postmaster_role != GP_ROLE_DISPATCH)
		return;

	/* the library is loaded by absolute path: the worker loads the same */
	if (dladdr((void *) gp_compat_fts_main, &info) == 0 || info.dli_fname == NULL)
		ereport(FATAL,
				(errmsg("gp_compat: cannot find the path of the loaded library")));

	MemSet(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	if (strlen(info.dli_fname) >= BGW_MAXLEN)
	{
		ereport(WARNING,
				(errmsg("gp_compat: library path \"%s\" is too long for a background worker (%d bytes at most): FTS does not run",
						info.dli_fname, BGW_MAXLEN - 1)));
		return;
	}
	strlcpy(worker.bgw_library_name, info.dli_fname, BGW_MAXLEN);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", "gp_compat_fts_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", "ftsprobe process");
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", "ftsprobe process");
	RegisterBackgroundWorker(&worker);
	fts_registered = true;
}

/* ------------------------------------------------------------------------
 * gp_request_fts_probe_scan()
 * ------------------------------------------------------------------------
 */

/*
 * Wake the worker and wait until a round that started after this request
 * has finished.  Returns false if none did within REQUEST_WAIT_LIMIT_MS
 * (no FTS worker running, for instance).
 */
bool
gp_compat_fts_request(void)
{
	uint64		mine;
	Latch	   *latch;
	TimestampTz start = GetCurrentTimestamp();
	bool		result = false;

	if (fts_shmem == NULL || !fts_registered)
	{
		ereport(WARNING,
				(errmsg("FTS does not run on this instance")));
		return false;
	}

	SpinLockAcquire(&fts_shmem->mutex);
	mine = ++fts_shmem->requested;
	latch = fts_shmem->latch;
	SpinLockRelease(&fts_shmem->mutex);
	if (latch != NULL)
		SetLatch(latch);

	ConditionVariablePrepareToSleep(&fts_shmem->cv);
	for (;;)
	{
		bool		done;

		SpinLockAcquire(&fts_shmem->mutex);
		done = fts_shmem->done_for >= mine;
		latch = fts_shmem->latch;
		SpinLockRelease(&fts_shmem->mutex);
		if (done)
		{
			result = true;
			break;
		}
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   REQUEST_WAIT_LIMIT_MS))
		{
			ereport(WARNING,
					(errmsg("FTS probe scan did not complete within %d s",
							REQUEST_WAIT_LIMIT_MS / 1000)));
			break;
		}
		/* a worker (re)started since: wake it too */
		if (latch != NULL)
			SetLatch(latch);
		ConditionVariableTimedSleep(&fts_shmem->cv, 1000, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return result;
}

/* ------------------------------------------------------------------------
 * libpq sessions that SIGTERM (die()) and a deadline can end: remote.c
 * ------------------------------------------------------------------------
 */

static char *superuser_name = NULL;

/*
 * Connect in utility mode to dbname at host:port (host NULL: this instance
 * over its socket) within timeout_s.  NULL with *error set on failure.
 */
static PGconn *
fts_connect(const char *host, int port, const char *dbname, bool catalog_writer,
			int timeout_s, char **error)
{
	const char *keywords[10];
	const char *values[10];
	int			n = 0;

	if (host == NULL)
	{
		char	   *rawstring;
		List	   *dirs;

		host = "localhost";
		if (Unix_socket_directories != NULL)
		{
			rawstring = pstrdup(Unix_socket_directories);
			if (SplitDirectoriesString(rawstring, ',', &dirs) && dirs != NIL)
				host = (char *) linitial(dirs);
		}
	}

	keywords[n] = "host";
	values[n++] = host;
	keywords[n] = "port";
	values[n++] = psprintf("%d", port);
	keywords[n] = "dbname";
	values[n++] = dbname;
	keywords[n] = "user";
	values[n++] = superuser_name;
	keywords[n] = "options";
	values[n++] = catalog_writer ?
		"-c gp_role=utility -c allow_system_table_mods=on -c datestyle=ISO" :
		"-c gp_role=utility";
	keywords[n] = "connect_timeout";
	values[n++] = psprintf("%d", Max(timeout_s, 2));
	keywords[n] = "application_name";
	values[n++] = "gp_fts_probe";
	keywords[n] = "sslmode";
	values[n++] = "disable";
	keywords[n] = NULL;
	values[n] = NULL;

	return gp_compat_remote_connect(keywords, values, timeout_s, error);
}

/*
 * Run sql on conn within timeout_s (remote.c); NULL with *error set on
 * failure.  The caller PQclear()s the result.
 */
static PGresult *
fts_exec(PGconn *conn, const char *sql, int timeout_s, char **error)
{
	return gp_compat_remote_exec(conn, sql, 0, NULL, timeout_s, error);
}

/* fts_exec() for statements whose result does not matter */
static bool
fts_command(PGconn *conn, const char *sql, int timeout_s, char **error)
{
	return gp_compat_remote_command(conn, sql, 0, NULL, timeout_s, error);
}

/* sleep ms milliseconds, handling interrupts */
static void
fts_sleep(long ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		remaining;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			return;
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   remaining, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}

/* ------------------------------------------------------------------------
 * One probe round
 * ------------------------------------------------------------------------
 */

typedef struct Seg
{
	int			dbid;
	int			content;
	char		role;
	char		preferred_role;
	char		mode;
	char		status;
	int			port;
	char	   *address;
	char	   *datadir;
	/* decided by the round */
	char		new_role;
	char		new_mode;
	char		new_status;
} Seg;

/* What a probe of a primary found */
typedef struct Probe
{
	bool		alive;
	char	   *error;			/* why it is not alive */
	PGconn	   *conn;			/* kept open for the round's commands */
	char	   *sync_names;		/* synchronous_standby_names */
	char	   *wal_state;		/* state of the gp_walreceiver walsender, or
								 * NULL */
	char	   *sync_state;
	bool		caught_up;		/* its flush_lsn reached the primary's flush */
} Probe;

/* One content and what the round decided for it */
typedef struct Pair
{
	int			content;
	Seg		   *primary;
	Seg		   *mirror;
	Probe		probe;
	bool		decided;		/* catalog rows to change (new_* set) */
	bool		syncrep_off;	/* after the commit, turn the primary's off */
	bool		promoted;		/* the mirror was promoted this round */
} Pair;

/*
 * When FTS first saw each mirror not streaming (Greenplum counts the grace
 * period from the walsender's disconnection on the primary; PostgreSQL does
 * not record it, so compat counts from the first probe that saw it).
 */
typedef struct GraceEntry
{
	int			dbid;
	TimestampTz since;
} GraceEntry;

static List *grace_entries = NIL;	/* in TopMemoryContext */
static TimestampTz next_retry = 0;	/* an early round, for a grace period */

static GraceEntry *
grace_lookup(int dbid, bool create)
{
	ListCell   *lc;
	GraceEntry *entry;
	MemoryContext old;

	foreach(lc, grace_entries)
	{
		entry = lfirst(lc);
		if (entry->dbid == dbid)
			return entry;
	}
	if (!create)
		return NULL;
	old = MemoryContextSwitchTo(TopMemoryContext);
	entry = palloc(sizeof(GraceEntry));
	entry->dbid = dbid;
	entry->since = GetCurrentTimestamp();
	grace_entries = lappend(grace_entries, entry);
	MemoryContextSwitchTo(old);
	return entry;
}

static void
grace_forget(int dbid)
{
	GraceEntry *entry = grace_lookup(dbid, false);

	if (entry != NULL)
	{
		grace_entries = list_delete_ptr(grace_entries, entry);
		pfree(entry);
	}
}

#define SEGMENT_QUERY \
	"SELECT dbid, content, role, preferred_role, mode, status, port, " \
	"coalesce(address, hostname), datadir " \
	"FROM gp_compat.gp_segment_configuration WHERE content >= 0 " \
	"ORDER BY content, dbid"

/* Read the rows of the segments (content >= 0) from res */
static List *
segments_from(PGresult *res)
{
	List	   *result = NIL;
	int			row;

	for (row = 0; row < PQntuples(res); row++)
	{
		Seg		   *seg = palloc0(sizeof(Seg));

		seg->dbid = atoi(PQgetvalue(res, row, 0));
		seg->content = atoi(PQgetvalue(res, row, 1));
		seg->role = PQgetvalue(res, row, 2)[0];
		seg->preferred_role = PQgetvalue(res, row, 3)[0];
		seg->mode = PQgetvalue(res, row, 4)[0];
		seg->status = PQgetvalue(res, row, 5)[0];
		seg->port = atoi(PQgetvalue(res, row, 6));
		seg->address = pstrdup(PQgetvalue(res, row, 7));
		seg->datadir = pstrdup(PQgetvalue(res, row, 8));
		seg->new_role = seg->role;
		seg->new_mode = seg->mode;
		seg->new_status = seg->status;
		result = lappend(result, seg);
	}
	return result;
}

/* The pairs: contents that have a primary and a mirror */
static List *
pairs_from(List *segments)
{
	List	   *pairs = NIL;
	ListCell   *lc;

	foreach(lc, segments)
	{
		Seg		   *seg = lfirst(lc);
		Pair	   *pair = NULL;
		ListCell   *lp;

		foreach(lp, pairs)
		{
			if (((Pair *) lfirst(lp))->content == seg->content)
				pair = lfirst(lp);
		}
		if (pair == NULL)
		{
			pair = palloc0(sizeof(Pair));
			pair->content = seg->content;
			pairs = lappend(pairs, pair);
		}
		if (seg->role == ROLE_PRIMARY)
			pair->primary = seg;
		else if (seg->role == ROLE_MIRROR)
			pair->mirror = seg;
	}
	return pairs;
}

#define PROBE_QUERY \
	"SELECT current_setting('synchronous_standby_names'), r.state, r.sync_state, " \
	"(r.flush_lsn >= pg_current_wal_flush_lsn())::text " \
	"FROM (SELECT 1) AS one LEFT JOIN LATERAL " \
	"(SELECT state, sync_state, flush_lsn FROM pg_catalog.pg_stat_replication " \
	"WHERE application_name = '" GP_WALRECEIVER_APPNAME "' " \
	"ORDER BY state = 'streaming' DESC, backend_start DESC LIMIT 1) AS r ON true"

/* Ask an alive primary for its mirror's state; false on error */
static bool
read_mirror_state(Pair *pair)
{
	Probe	   *probe = &pair->probe;
	char	   *error = NULL;
	PGresult   *res = fts_exec(probe->conn, PROBE_QUERY, fts_probe_timeout, &error);

	if (res == NULL || PQntuples(res) != 1)
	{
		probe->error = error ? error : pstrdup("unexpected result");
		if (res)
			PQclear(res);
		return false;
	}
	probe->sync_names = pstrdup(PQgetvalue(res, 0, 0));
	probe->wal_state = PQgetisnull(res, 0, 1) ? NULL : pstrdup(PQgetvalue(res, 0, 1));
	probe->sync_state = PQgetisnull(res, 0, 2) ? NULL : pstrdup(PQgetvalue(res, 0, 2));
	probe->caught_up = !PQgetisnull(res, 0, 3) && strcmp(PQgetvalue(res, 0, 3), "true") == 0;
	PQclear(res);
	return true;
}

/*
 * Probe the pair's primary: connect in utility mode, retrying
 * fts_probe_retries times one second apart, as Greenplum does.
 */
static void
probe_primary(Pair *pair)
{
	Seg		   *primary = pair->primary;
	Probe	   *probe = &pair->probe;
	int			attempt;

	for (attempt = 0; attempt <= fts_probe_retries; attempt++)
	{
		char	   *error = NULL;

		if (attempt > 0)
			fts_sleep(PROBE_RETRY_DELAY_MS);

		probe->conn = fts_connect(primary->address, primary->port, "template1",
								  false, fts_probe_timeout, &error);
		if (probe->conn != NULL)
		{
			if (read_mirror_state(pair))
			{
				probe->alive = true;
				return;
			}
			error = probe->error;
			PQfinish(probe->conn);
			probe->conn = NULL;
		}
		probe->error = error;
		ereport(LOG,
				(errmsg("FTS: cannot establish libpq connection (content=%d, dbid=%d): %s, retry_count=%d",
						primary->content, primary->dbid, error, attempt)));
	}
	ereport(LOG,
			(errmsg("FTS max (%d) retries exhausted (content=%d, dbid=%d)",
					fts_probe_retries, primary->content, primary->dbid)));
}

/* ALTER SYSTEM SET synchronous_standby_names = value on conn, and reload */
static bool
set_sync_standby_names(PGconn *conn, Seg *seg, const char *value)
{
	char	   *error = NULL;
	char	   *sql = psprintf("ALTER SYSTEM SET synchronous_standby_names = %s",
							   quote_literal_cstr(value));

	if (!fts_command(conn, sql, fts_probe_timeout, &error) ||
		!fts_command(conn, "SELECT pg_catalog.pg_reload_conf()", fts_probe_timeout, &error))
	{
		ereport(WARNING,
				(errmsg("FTS: could not set synchronous_standby_names to '%s' on dbid %d (content %d): %s",
						value, seg->dbid, seg->content, error)));
		return false;
	}
	ereport(LOG,
			(errmsg("FTS: %s synchronous wal replication on dbid %d (content %d): synchronous_standby_names = '%s'",
					value[0] == '\0' ? "turned off" : "turned on",
					seg->dbid, seg->content, value)));
	return true;
}

/* path of the real pg_ctl, next to the postgres that runs us */
static char *
pg_ctl_path(void)
{
	char		dir[MAXPGPATH];
	char	   *path;

	strlcpy(dir, my_exec_path, sizeof(dir));
	get_parent_directory(dir);
	path = psprintf("%s/pg_ctl", dir);
	if (access(path, X_OK) == 0)
		return path;
	return pstrdup("pg_ctl");
}

static char *
shell_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '\'');
	for (; *s; s++)
	{
		if (*s == '\'')
			appendStringInfoString(&buf, "'\\''");
		else
			appendStringInfoChar(&buf, *s);
	}
	appendStringInfoChar(&buf, '\'');
	return buf.data;
}

/*
 * Promote the mirror, as Greenplum's FTS does with its PROMOTE message: a
 * live standby (it rejects connections, PQPING_REJECT) is promoted with
 * pg_ctl promote; one that already accepts a utility session was promoted
 * by an earlier round whose catalog change did not commit.  Afterwards its
 * synchronous replication is off (it has no mirror) and it has Greenplum's
 * replication slot for the next mirror (Greenplum creates it on promotion).
 */
static bool
promote_mirror(Pair *pair)
{
	Seg		   *mirror = pair->mirror;
	const char *keywords[6];
	const char *values[6];
	PGPing		ping;
	PGconn	   *conn;
	char	   *error = NULL;

	keywords[0] = "host";
	values[0] = mirror->address;
	keywords[1] = "port";
	values[1] = psprintf("%d", mirror->port);
	keywords[2] = "dbname";
	values[2] = "template1";
	keywords[3] = "options";
	values[3] = "-c gp_role=utility";
	keywords[4] = "connect_timeout";
	values[4] = psprintf("%d", Max(fts_probe_timeout, 2));
	keywords[5] = NULL;
	values[5] = NULL;
	ping = PQpingParams(keywords, values, false);

	if (ping == PQPING_NO_RESPONSE || ping == PQPING_NO_ATTEMPT)
	{
		ereport(WARNING,
				(errmsg("FTS: double fault detected for content %d: primary dbid %d is down and mirror dbid %d does not respond; not promoting",
						pair->content, pair->primary->dbid, mirror->dbid)));
		return false;
	}

	if (ping == PQPING_REJECT)
	{
		char	   *cmd;
		FILE	   *pipe;
		char		line[1024];
		StringInfoData output;
		int			rc;

		ereport(LOG,
				(errmsg("FTS: promoting mirror dbid %d (content %d) in \"%s\" to primary: primary dbid %d is down",
						mirror->dbid, mirror->content, mirror->datadir,
						pair->primary->dbid)));
		cmd = psprintf("%s promote -D %s -w -t 60 2>&1", shell_quote(pg_ctl_path()),
					   shell_quote(mirror->datadir));
		pipe = OpenPipeStream(cmd, "r");
		if (pipe == NULL)
		{
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("FTS: could not run \"%s\": %m", cmd)));
			return false;
		}
		initStringInfo(&output);
		while (fgets(line, sizeof(line), pipe) != NULL)
			appendStringInfoString(&output, line);
		rc = ClosePipeStream(pipe);
		if (rc != 0)
		{
			ereport(WARNING,
					(errmsg("FTS: could not promote mirror dbid %d (content %d): \"%s\" failed (%s): %s",
							mirror->dbid, mirror->content, cmd,
							wait_result_to_str(rc), pchomp(output.data))));
			return false;
		}
		ereport(LOG,
				(errmsg("FTS: promoted mirror dbid %d (content %d): %s",
						mirror->dbid, mirror->content, pchomp(output.data))));
	}
	else
		ereport(LOG,
				(errmsg("FTS: mirror dbid %d (content %d) already accepts utility connections: it was promoted before",
						mirror->dbid, mirror->content)));

	/*
	 * pg_ctl promote -w returns once the promotion is signalled and the
	 * end of recovery began; the server accepts sessions a moment later
	 * ("the database system is not accepting connections" until then).
	 * Greenplum creates the slot as part of the promotion itself; here the
	 * connection is retried for up to the probe timeout.
	 */
	for (int waited = 0;; waited++)
	{
		conn = fts_connect(mirror->address, mirror->port, "template1", false,
						   fts_probe_timeout, &error);
		if (conn != NULL || waited >= fts_probe_timeout * 10)
			break;
		pg_usleep(100 * 1000L);
		CHECK_FOR_INTERRUPTS();
	}
	if (conn == NULL)
	{
		ereport(WARNING,
				(errmsg("FTS: could not connect to promoted mirror dbid %d (content %d): %s",
						mirror->dbid, mirror->content, error)));
		return true;
	}
	set_sync_standby_names(conn, mirror, "");
	/*
	 * The slot reserves WAL at once, as Greenplum's promotion makes it
	 * (CreateReplicationSlotOnPromote): the old primary, rewound later,
	 * replays from the point of divergence.
	 */
	if (!fts_command(conn,
					 "SELECT pg_catalog.pg_create_physical_replication_slot('" GP_REPLICATION_SLOT "', true) "
					 "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots "
					 "WHERE slot_name = '" GP_REPLICATION_SLOT "')",
					 fts_probe_timeout, &error))
		ereport(WARNING,
				(errmsg("FTS: could not create replication slot %s on dbid %d: %s",
						GP_REPLICATION_SLOT, mirror->dbid, error)));
	PQfinish(conn);
	return true;
}

static void
set_target(Pair *pair, Seg *seg, char role, char status, char mode)
{
	seg->new_role = role;
	seg->new_status = status;
	seg->new_mode = mode;
	pair->decided = true;
}

/* a walsender state in which the mirror is connected */
static bool
mirror_connected(const char *state)
{
	return state != NULL &&
		(strcmp(state, "streaming") == 0 || strcmp(state, "catchup") == 0 ||
		 strcmp(state, "startup") == 0);
}

/*
 * Decide what the probe of a pair means, doing what must happen before the
 * catalog changes (promotion, synchronous replication on).
 */
static void
decide(Pair *pair)
{
	Seg		   *primary = pair->primary;
	Seg		   *mirror = pair->mirror;
	Probe	   *probe = &pair->probe;

	if (!probe->alive)
	{
		ereport(LOG,
				(errmsg("FTS: primary dbid %d (content %d) is down: %s",
						primary->dbid, primary->content, probe->error)));
		grace_forget(mirror->dbid);

		/* never promote a mirror that is not known to be in sync */
		if (mirror->status != STATUS_UP || mirror->mode != MODE_INSYNC)
		{
			ereport(WARNING,
					(errmsg("FTS: double fault detected for content %d: primary dbid %d is down and mirror dbid %d is not in sync (status %c, mode %c); not promoting",
							pair->content, primary->dbid, mirror->dbid,
							mirror->status, mirror->mode)));
			return;
		}
		if (!promote_mirror(pair))
			return;
		pair->promoted = true;
		set_target(pair, primary, ROLE_MIRROR, STATUS_DOWN, MODE_NOTINSYNC);
		set_target(pair, mirror, ROLE_PRIMARY, STATUS_UP, MODE_NOTINSYNC);
		return;
	}

	if (mirror_connected(probe->wal_state))
	{
		bool		streaming = strcmp(probe->wal_state, "streaming") == 0;
		int			tries;

		grace_forget(mirror->dbid);

		/*
		 * The mirror streams: the primary's synchronous replication goes
		 * (back) on, as Greenplum's primary does when FTS finds its mirror
		 * up.
		 */
		if (streaming && probe->sync_names[0] == '\0')
		{
			if (set_sync_standby_names(probe->conn, primary, SYNC_STANDBY_NAMES_ON))
			{
				/* let the walsender see the reload, then look again */
				fts_sleep(100);
				if (!read_mirror_state(pair))
					probe->wal_state = NULL;
				probe->sync_names = SYNC_STANDBY_NAMES_ON;
				streaming = mirror_connected(probe->wal_state) &&
					strcmp(probe->wal_state, "streaming") == 0;
			}
		}

		/* give a mirror that is a little behind a moment to catch up */
		for (tries = 0; streaming && !probe->caught_up && tries < 20; tries++)
		{
			fts_sleep(100);
			if (!read_mirror_state(pair) || !mirror_connected(probe->wal_state))
				break;
			streaming = strcmp(probe->wal_state, "streaming") == 0;
		}

		if (mirror_connected(probe->wal_state) &&
			strcmp(probe->wal_state, "streaming") == 0 && probe->caught_up &&
			probe->sync_names[0] != '\0')
		{
			if (primary->mode != MODE_INSYNC || mirror->mode != MODE_INSYNC ||
				mirror->status != STATUS_UP || primary->status != STATUS_UP)
				ereport(LOG,
						(errmsg("FTS: mirror dbid %d (content %d) is streaming and caught up (sync_state %s): in sync",
								mirror->dbid, mirror->content,
								probe->sync_state ? probe->sync_state : "?")));
			set_target(pair, primary, ROLE_PRIMARY, STATUS_UP, MODE_INSYNC);
			set_target(pair, mirror, ROLE_MIRROR, STATUS_UP, MODE_INSYNC);
		}
		else
		{
			if (primary->mode != MODE_NOTINSYNC || mirror->status != STATUS_UP)
				ereport(LOG,
						(errmsg("FTS: mirror dbid %d (content %d) is connected (%s) but not in sync",
								mirror->dbid, mirror->content,
								probe->wal_state ? probe->wal_state : "gone")));
			set_target(pair, primary, ROLE_PRIMARY, STATUS_UP, MODE_NOTINSYNC);
			set_target(pair, mirror, ROLE_MIRROR, STATUS_UP, MODE_NOTINSYNC);
		}
		return;
	}

	/* the mirror is not connected */
	if (mirror->status == STATUS_UP)
	{
		GraceEntry *entry = grace_lookup(mirror->dbid, true);
		TimestampTz expiry = TimestampTzPlusMilliseconds(entry->since,
														 fts_mark_mirror_down_grace_period * 1000);

		if (GetCurrentTimestamp() < expiry)
		{
			ereport(LOG,
					(errmsg("FTS: mirror dbid %d (content %d) is not streaming: requesting fts retry as mirror didn't connect yet but in grace period",
							mirror->dbid, mirror->content)));
			if (next_retry == 0 || expiry < next_retry)
				next_retry = expiry;
			return;
		}
		ereport(LOG,
				(errmsg("FTS: marking mirror dbid %d (content %d) down: not streaming for %d s (grace period %d s)",
						mirror->dbid, mirror->content,
						(int) ((GetCurrentTimestamp() - entry->since) / USECS_PER_SEC),
						fts_mark_mirror_down_grace_period)));
		grace_forget(mirror->dbid);
	}
	set_target(pair, primary, ROLE_PRIMARY, STATUS_UP, MODE_NOTINSYNC);
	set_target(pair, mirror, ROLE_MIRROR, STATUS_DOWN, MODE_NOTINSYNC);
	if (probe->sync_names[0] != '\0')
		pair->syncrep_off = true;
}

static bool
seg_changed(Seg *seg)
{
	return seg->new_role != seg->role || seg->new_status != seg->status ||
		seg->new_mode != seg->mode;
}

/* Does the locked catalog still hold what the round started from? */
static bool
pair_unchanged(Pair *pair, List *current)
{
	ListCell   *lc;
	int			found = 0;

	foreach(lc, current)
	{
		Seg		   *now = lfirst(lc);
		Seg		   *then;

		if (now->content != pair->content)
			continue;
		if (now->dbid == pair->primary->dbid)
			then = pair->primary;
		else if (now->dbid == pair->mirror->dbid)
			then = pair->mirror;
		else
			return false;
		if (now->role != then->role || now->status != then->status ||
			now->mode != then->mode)
			return false;
		found++;
	}
	return found == 2;
}

/*
 * Write the round's decisions: one transaction, one history row per changed
 * segment, in Greenplum's wording.
 */
/*
 * Write seg's new role, status and mode and its history row, desc, in the
 * transaction open on conn; every value a bound parameter.
 */
static bool
update_segment(PGconn *conn, Seg *seg, const char *desc, char **error)
{
	const char *update[4];
	const char *history[2];
	char		role[2] = {seg->new_role, '\0'};
	char		status[2] = {seg->new_status, '\0'};
	char		mode[2] = {seg->new_mode, '\0'};
	char	   *dbid = psprintf("%d", seg->dbid);

	update[0] = role;
	update[1] = status;
	update[2] = mode;
	update[3] = dbid;
	history[0] = dbid;
	history[1] = desc;
	return gp_compat_remote_command(conn,
									"UPDATE gp_compat.gp_segment_configuration "
									"SET role = $1, status = $2, mode = $3 WHERE dbid = $4",
									4, update, 60, error) &&
		gp_compat_remote_command(conn,
								 "INSERT INTO gp_compat.gp_configuration_history (\"time\", dbid, \"desc\") "
								 "VALUES (now(), $1, $2)",
								 2, history, 60, error);
}

static void
write_catalog(List *pairs)
{
	ListCell   *lc;
	PGconn	   *conn;
	PGresult   *res;
	char	   *error = NULL;
	List	   *current;
	int			changes = 0;

	foreach(lc, pairs)
	{
		Pair	   *pair = lfirst(lc);

		if (pair->decided &&
			(seg_changed(pair->primary) || seg_changed(pair->mirror)))
			changes++;
	}
	if (changes == 0)
		return;

	conn = fts_connect(NULL, PostPortNumber, "template1", true, 60, &error);
	if (conn == NULL)
	{
		ereport(WARNING,
				(errmsg("FTS: could not connect to template1 to update the segment catalog: %s", error)));
		return;
	}

	if (!fts_command(conn, "BEGIN", 60, &error) ||
		!fts_command(conn, "SET LOCAL lock_timeout = '30s'", 60, &error) ||
		!fts_command(conn, "LOCK TABLE gp_compat.gp_segment_configuration IN EXCLUSIVE MODE", 60, &error) ||
		(res = fts_exec(conn, SEGMENT_QUERY, 60, &error)) == NULL)
	{
		ereport(WARNING,
				(errmsg("FTS: could not update the segment catalog: %s", error)));
		PQfinish(conn);
		return;
	}
	current = segments_from(res);
	PQclear(res);

	foreach(lc, pairs)
	{
		Pair	   *pair = lfirst(lc);
		Seg		   *segs[2];
		int			i;

		if (!pair->decided)
			continue;
		if (!pair_unchanged(pair, current))
		{
			ereport(LOG,
					(errmsg("FTS: the catalog rows of content %d changed during the probe; not updating them this round",
							pair->content)));
			pair->syncrep_off = false;
			next_retry = GetCurrentTimestamp();
			continue;
		}
		/* Greenplum writes the primary's row first */
		segs[0] = pair->primary;
		segs[1] = pair->mirror;
		for (i = 0; i < 2; i++)
		{
			Seg		   *seg = segs[i];
			char	   *desc;

			if (!seg_changed(seg))
				continue;
			desc = psprintf("FTS: update role, status, and mode for dbid %d with contentid %d to %c, %c, and %c",
							seg->dbid, seg->content, seg->new_role,
							seg->new_status, seg->new_mode);
			if (!update_segment(conn, seg, desc, &error))
			{
				ereport(WARNING,
						(errmsg("FTS: could not update the segment catalog: %s", error)));
				PQfinish(conn);
				return;
			}
			ereport(LOG, (errmsg("%s", desc)));
		}
	}

	if (!fts_command(conn, "COMMIT", 60, &error))
		ereport(WARNING,
				(errmsg("FTS: could not commit the segment catalog update: %s", error)));
	PQfinish(conn);
}

static void
probe_round(void)
{
	PGconn	   *conn;
	PGresult   *res;
	char	   *error = NULL;
	List	   *pairs;
	ListCell   *lc;

	conn = fts_connect(NULL, PostPortNumber, "template1", false, 60, &error);
	if (conn == NULL)
	{
		ereport(WARNING,
				(errmsg("FTS: could not connect to template1 to read the segment catalog: %s", error)));
		return;
	}
	res = fts_exec(conn, SEGMENT_QUERY, 60, &error);
	if (res == NULL)
	{
		ereport(WARNING,
				(errmsg("FTS: could not read the segment catalog: %s", error)));
		PQfinish(conn);
		return;
	}
	pairs = pairs_from(segments_from(res));
	PQclear(res);
	PQfinish(conn);

	/* Greenplum's FTS does nothing for a content without a mirror */
	foreach(lc, pairs)
	{
		Pair	   *pair = lfirst(lc);

		if (pair->primary == NULL || pair->mirror == NULL)
			continue;
		probe_primary(pair);
		decide(pair);
	}

	write_catalog(pairs);

	/* after the catalog says the mirror is down: commits go on without it */
	foreach(lc, pairs)
	{
		Pair	   *pair = lfirst(lc);

		if (pair->syncrep_off && pair->probe.conn != NULL)
			set_sync_standby_names(pair->probe.conn, pair->primary, "");
		if (pair->probe.conn != NULL)
			PQfinish(pair->probe.conn);
		pair->probe.conn = NULL;
	}
}

/* ------------------------------------------------------------------------
 * The worker
 * ------------------------------------------------------------------------
 */

static void
fts_detach(int code, Datum arg)
{
	SpinLockAcquire(&fts_shmem->mutex);
	if (fts_shmem->pid == MyProcPid)
	{
		fts_shmem->latch = NULL;
		fts_shmem->pid = 0;
	}
	SpinLockRelease(&fts_shmem->mutex);
}

void
gp_compat_fts_main(Datum main_arg)
{
	MemoryContext round_cxt;
	TimestampTz last_round = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only the shared catalogs, for the superuser's name */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	StartTransactionCommand();
	superuser_name = MemoryContextStrdup(TopMemoryContext,
										 GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false));
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	SpinLockAcquire(&fts_shmem->mutex);
	fts_shmem->latch = MyLatch;
	fts_shmem->pid = MyProcPid;
	SpinLockRelease(&fts_shmem->mutex);
	before_shmem_exit(fts_detach, (Datum) 0);

	ereport(LOG,
			(errmsg("FTS: probe process started (interval %d s, timeout %d s, retries %d, mirror down grace period %d s)",
					fts_probe_interval, fts_probe_timeout, fts_probe_retries,
					fts_mark_mirror_down_grace_period)));

	round_cxt = AllocSetContextCreate(TopMemoryContext, "gp_compat fts round",
									  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		TimestampTz now;
		TimestampTz next;
		bool		requested;
		uint64		round_for;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&fts_shmem->mutex);
		requested = fts_shmem->requested > fts_shmem->done_for;
		SpinLockRelease(&fts_shmem->mutex);

		now = GetCurrentTimestamp();
		next = TimestampTzPlusMilliseconds(last_round, fts_probe_interval * 1000);
		if (next_retry != 0 && next_retry < next)
			next = next_retry;

		if (!requested && last_round != 0 && now < next)
		{
			int			rc;

			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						   TimestampDifferenceMilliseconds(now, next) + 1,
						   PG_WAIT_EXTENSION);
			if (rc & WL_LATCH_SET)
				ResetLatch(MyLatch);
			continue;
		}

		SpinLockAcquire(&fts_shmem->mutex);
		round_for = fts_shmem->requested;
		fts_shmem->started_for = round_for;
		SpinLockRelease(&fts_shmem->mutex);

		last_round = GetCurrentTimestamp();
		next_retry = 0;
		pgstat_report_activity(STATE_RUNNING, "FTS probe round");
		MemoryContextSwitchTo(round_cxt);
		probe_round();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(round_cxt);
		pgstat_report_activity(STATE_IDLE, NULL);

		SpinLockAcquire(&fts_shmem->mutex);
		fts_shmem->done_for = round_for;
		fts_shmem->rounds_done++;
		SpinLockRelease(&fts_shmem->mutex);
		ConditionVariableBroadcast(&fts_shmem->cv);
	}
}
