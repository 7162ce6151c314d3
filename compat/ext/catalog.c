/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Greenplum's segment catalog (gp_segment_configuration,
 *	  gp_configuration_history, gp_stat_replication) and the functions
 *	  the management utilities call to change it.
 *
 * Greenplum's segment catalog is a set of shared tables: one copy, visible
 * from every database.  PostgreSQL extensions cannot create shared tables,
 * so the compat catalog keeps the one transactional copy in template1
 * (tables gp_compat.gp_segment_configuration and
 * gp_compat.gp_configuration_history) and every database, template1
 * included, sees it through views of the same names in pg_catalog.  The
 * views read the rows with gp_compat.shared_rows(): in template1 directly,
 * elsewhere over a libpq connection to template1 of this same instance.
 * Because the views are copied by CREATE DATABASE while the rows are not, a
 * database created after a catalog change shows the current rows.  Writes
 * (through INSTEAD OF triggers on the views, or through gp_add_segment()
 * and friends) are accepted in template1 only, where they are part of the
 * caller's transaction; Greenplum's tools write from template1.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_database_d.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "gp_compat.h"

/* Greenplum's gp_segment_configuration value codes */
#define ROLE_PRIMARY	'p'
#define ROLE_MIRROR		'm'
#define MODE_INSYNC		's'
#define MODE_NOTINSYNC	'n'
#define STATUS_UP		'u'
#define STATUS_DOWN		'd'

/* Greenplum's mirroring_sanity_check() flags */
#define MASTER_ONLY		0x1
#define UTILITY_MODE	0x2
#define SUPERUSER		0x4

/* One row of gp_segment_configuration */
typedef struct SegConfig
{
	int16		dbid;
	int16		content;
	char		role;
	char		preferred_role;
	char		mode;
	char		status;
	int32		port;
	char	   *hostname;
	char	   *address;
	char	   *datadir;
} SegConfig;

/* The walsender columns of gp_stat_replication, as text */
#define REPLICATION_QUERY \
	"SELECT pid, usesysid, usename, application_name, client_addr, " \
	"client_hostname, client_port, backend_start, backend_xmin, state, " \
	"sent_lsn, write_lsn, flush_lsn, replay_lsn, write_lag, flush_lag, " \
	"replay_lag, sync_priority, sync_state FROM pg_catalog.pg_stat_replication"
#define REPLICATION_COLUMNS 19

/* Seconds to connect to another instance, or to template1 of this one */
#define REMOTE_CONNECT_TIMEOUT 10

PG_FUNCTION_INFO_V1(gp_compat_shared_rows);
PG_FUNCTION_INFO_V1(gp_compat_stat_replication_rows);
PG_FUNCTION_INFO_V1(gp_compat_require_template1);
PG_FUNCTION_INFO_V1(gp_add_segment);
PG_FUNCTION_INFO_V1(gp_add_segment_primary);
PG_FUNCTION_INFO_V1(gp_add_segment_mirror);
PG_FUNCTION_INFO_V1(gp_remove_segment_mirror);
PG_FUNCTION_INFO_V1(gp_remove_segment);
PG_FUNCTION_INFO_V1(gp_add_master_standby);
PG_FUNCTION_INFO_V1(gp_remove_master_standby);
PG_FUNCTION_INFO_V1(gp_request_fts_probe_scan);


/* ------------------------------------------------------------------------
 * Connections to template1 of this instance and to other instances
 * ------------------------------------------------------------------------
 */

/* first entry of unix_socket_directories, or NULL if there is none */
static char *
local_socket_directory(void)
{
	char	   *rawstring;
	List	   *dirs;

	if (Unix_socket_directories == NULL)
		return NULL;
	rawstring = pstrdup(Unix_socket_directories);
	if (!SplitDirectoriesString(rawstring, ',', &dirs) || dirs == NIL)
		return NULL;
	return (char *) linitial(dirs);
}

/*
 * Connect to database dbname of host:port (host NULL: this instance, over
 * its socket) in utility mode, as the session user, within
 * REMOTE_CONNECT_TIMEOUT seconds; a cancel or statement_timeout ends the
 * wait (remote.c).  Returns NULL with *error set on failure.
 */
static PGconn *
connect_utility(const char *host, int port, const char *dbname,
				char **error)
{
	const char *keywords[8];
	const char *values[8];
	int			n = 0;

	if (host == NULL)
		host = local_socket_directory();
	if (host == NULL)
		host = "localhost";

	keywords[n] = "host";
	values[n++] = host;
	keywords[n] = "port";
	values[n++] = psprintf("%d", port);
	keywords[n] = "dbname";
	values[n++] = dbname;
	keywords[n] = "user";
	values[n++] = GetUserNameFromId(GetSessionUserId(), false);
	/* ISO dates, so that any local DateStyle reads them back */
	keywords[n] = "options";
	values[n++] = "-c gp_role=utility -c datestyle=ISO -c intervalstyle=postgres";
	keywords[n] = "connect_timeout";
	values[n++] = psprintf("%d", REMOTE_CONNECT_TIMEOUT);
	keywords[n] = "fallback_application_name";
	values[n++] = "gp_compat";
	keywords[n] = NULL;
	values[n] = NULL;

	return gp_compat_remote_connect(keywords, values, REMOTE_CONNECT_TIMEOUT, error);
}

/*
 * Run sql on conn, within gp_compat.remote_query_timeout and open to a
 * cancel or statement_timeout (remote.c), and append its rows to the
 * tuplestore, each preceded by the prefix columns (as text) when
 * nprefix > 0.  Closes conn.  Returns false with *error set when the query
 * failed or did not finish in time.
 */
static bool
remote_rows_into(PGconn *conn, const char *sql, ReturnSetInfo *rsinfo,
				 int nprefix, char **prefix, char **error)
{
	PGresult   *volatile res = NULL;
	volatile bool ok = false;

	PG_TRY();
	{
		AttInMetadata *attinmeta;
		int			ncols;
		int			nrows;
		int			row;
		char	  **values;

		res = gp_compat_remote_exec(conn, sql, 0, NULL,
									gp_compat_remote_query_timeout, error);
		ok = res != NULL;
		if (ok)
		{
			ncols = PQnfields(res);
			nrows = PQntuples(res);
			if (nprefix + ncols != rsinfo->setDesc->natts)
				elog(ERROR, "gp_compat: query returned %d columns, expected %d",
					 ncols, rsinfo->setDesc->natts - nprefix);

			attinmeta = TupleDescGetAttInMetadata(rsinfo->setDesc);
			values = (char **) palloc((nprefix + ncols) * sizeof(char *));
			for (row = 0; row < nrows; row++)
			{
				int			col;

				for (col = 0; col < nprefix; col++)
					values[col] = prefix[col];
				for (col = 0; col < ncols; col++)
					values[nprefix + col] = PQgetisnull(res, row, col) ? NULL :
						PQgetvalue(res, row, col);
				tuplestore_puttuple(rsinfo->setResult,
									BuildTupleFromCStrings(attinmeta, values));
			}
		}
	}
	PG_FINALLY();
	{
		PQclear(res);
		PQfinish(conn);
	}
	PG_END_TRY();
	return ok;
}

/* Same as remote_rows_into(), for a query run through SPI in this session */
static void
local_rows_into(const char *sql, ReturnSetInfo *rsinfo,
				int nprefix, char **prefix)
{
	AttInMetadata *attinmeta = TupleDescGetAttInMetadata(rsinfo->setDesc);
	char	  **values;
	uint64		row;
	int			ncols;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "gp_compat: could not run \"%s\"", sql);

	ncols = SPI_tuptable->tupdesc->natts;
	if (nprefix + ncols != rsinfo->setDesc->natts)
		elog(ERROR, "gp_compat: query returned %d columns, expected %d",
			 ncols, rsinfo->setDesc->natts - nprefix);

	values = (char **) palloc((nprefix + ncols) * sizeof(char *));
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		int			col;

		for (col = 0; col < nprefix; col++)
			values[col] = prefix[col];
		for (col = 0; col < ncols; col++)
			values[nprefix + col] = SPI_getvalue(tuple, SPI_tuptable->tupdesc,
												 col + 1);
		tuplestore_puttuple(rsinfo->setResult,
							BuildTupleFromCStrings(attinmeta, values));
	}
	SPI_finish();
}


/* ------------------------------------------------------------------------
 * The views' row sources
 * ------------------------------------------------------------------------
 */

/*
 * gp_compat.shared_rows(table text) returns setof record
 *
 * The rows of gp_compat.<table> of template1, for the views
 * pg_catalog.gp_segment_configuration and pg_catalog.gp_configuration_history.
 */
Datum
gp_compat_shared_rows(PG_FUNCTION_ARGS)
{
	char	   *table = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *sql;

	if (strcmp(table, "gp_segment_configuration") != 0 &&
		strcmp(table, "gp_configuration_history") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a segment catalog table", table)));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	sql = psprintf("SELECT * FROM gp_compat.%s", table);

	if (MyDatabaseId == Template1DbOid)
		local_rows_into(sql, rsinfo, 0, NULL);
	else
	{
		char	   *connerr = NULL;
		PGconn	   *conn = connect_utility(NULL, PostPortNumber, "template1",
										   &connerr);

		if (conn == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not connect to template1 to read %s: %s",
							table, connerr),
					 errdetail("The compat segment catalog lives in template1; "
							   "other databases read it over a local connection.")));
		if (!remote_rows_into(conn, sql, rsinfo, 0, NULL, &connerr))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not read %s from template1: %s", table, connerr)));
	}

	return (Datum) 0;
}

/*
 * gp_compat.stat_replication_rows() returns setof record
 *
 * The walsenders of this instance and, on the coordinator, those of every
 * acting primary that is marked up, read in utility mode, each row
 * preceded by its content id.  This is what Greenplum's
 * gp_stat_get_master_replication() and gp_stat_get_segment_replication()
 * return; the view gp_stat_replication adds the rows of mirrors that have
 * no walsender.  A primary that cannot be reached, or does not answer
 * within gp_compat.remote_query_timeout, adds no row (WARNING); a cancel
 * or statement_timeout ends the wait.
 */
Datum
gp_compat_stat_replication_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *prefix[1];
	List	   *primaries = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	prefix[0] = psprintf("%d", GpIdentity_segindex);
	local_rows_into(REPLICATION_QUERY, rsinfo, 1, prefix);

	if (GpIdentity_segindex != MASTER_CONTENT_ID)
		return (Datum) 0;

	/* the acting primaries, from the catalog */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT content, address, port "
					"FROM pg_catalog.gp_segment_configuration "
					"WHERE content >= 0 AND role = 'p' AND status = 'u' "
					"ORDER BY content", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "gp_compat: could not read gp_segment_configuration");
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
		uint64		row;

		for (row = 0; row < SPI_processed; row++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[row];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			primaries = lappend(primaries, SPI_getvalue(tuple, desc, 1));
			primaries = lappend(primaries, SPI_getvalue(tuple, desc, 2));
			primaries = lappend(primaries, SPI_getvalue(tuple, desc, 3));
		}
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	for (lc = list_head(primaries); lc != NULL; lc = lnext(primaries, lc))
	{
		char	   *content = lfirst(lc);
		char	   *address;
		int			port;
		char	   *connerr = NULL;
		PGconn	   *conn;

		lc = lnext(primaries, lc);
		address = lfirst(lc);
		lc = lnext(primaries, lc);
		port = pg_strtoint32(lfirst(lc));

		conn = connect_utility(address, port, "template1", &connerr);
		if (conn == NULL)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not read replication status of content %s (%s:%d): %s",
							content, address, port, connerr)));
			continue;
		}
		prefix[0] = content;
		if (!remote_rows_into(conn, REPLICATION_QUERY, rsinfo, 1, prefix, &connerr))
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not read replication status of content %s (%s:%d): %s",
							content, address, port, connerr)));
	}

	return (Datum) 0;
}


/* ------------------------------------------------------------------------
 * Segment catalog changes (Greenplum's segadmin.c)
 * ------------------------------------------------------------------------
 */

/*
 * gp_compat.require_template1(what text) returns void
 *
 * Writes to the segment catalog are accepted in template1 only (see the
 * head of this file).
 */
static void
require_template1(const char *what)
{
	if (MyDatabaseId != Template1DbOid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s must be run in database template1", what),
				 errdetail("The compat segment catalog lives in template1; "
						   "other databases only see a read-only view of it.")));
}

Datum
gp_compat_require_template1(PG_FUNCTION_ARGS)
{
	require_template1(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* Greenplum's mirroring_sanity_check(), with its messages */
static void
mirroring_sanity_check(int flags, const char *func)
{
	if ((flags & MASTER_ONLY) == MASTER_ONLY)
	{
		if (GpIdentity_dbid == UNINITIALIZED_GP_IDENTITY_VALUE)
			elog(ERROR, "%s requires valid GpIdentity dbid", func);

		if (GpIdentity_segindex != MASTER_CONTENT_ID)
			elog(ERROR, "%s must be run on the master", func);
	}

	if ((flags & UTILITY_MODE) == UTILITY_MODE)
	{
		if (Gp_role != GP_ROLE_UTILITY)
			elog(ERROR, "%s must be run in utility mode", func);
	}

	if ((flags & SUPERUSER) == SUPERUSER)
	{
		if (!superuser())
			elog(ERROR, "%s can only be run by a superuser", func);
	}

	require_template1(func);
}

/*
 * Start a change of the segment catalog: connect to SPI and lock the
 * table, as Greenplum's functions take AccessExclusiveLock on
 * gp_segment_configuration to avoid races.
 */
static void
begin_catalog_change(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("LOCK TABLE gp_compat.gp_segment_configuration "
					"IN ACCESS EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "gp_compat: could not lock gp_segment_configuration");
}

static void
end_catalog_change(void)
{
	SPI_finish();
}

/* Run a catalog-writing statement past the allow_system_table_mods check */
static void
execute_catalog_write(const char *sql, int nargs, Oid *argtypes,
					  Datum *values, int expected)
{
	int			rc;

	gp_compat_internal_write_depth++;
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL,
								   false, 0);
	}
	PG_FINALLY();
	{
		gp_compat_internal_write_depth--;
	}
	PG_END_TRY();

	if (rc != expected)
		elog(ERROR, "gp_compat: catalog write failed: %s",
			 SPI_result_code_string(rc));
}

/*
 * Rows of the catalog matching a WHERE clause (written in code, never from
 * values) over the bound arguments $1 (int2) and, when role is not 0, $2
 * ("char").
 */
static List *
find_segconfigs(const char *where, int16 arg, char role)
{
	Oid			argtypes[2] = {INT2OID, CHAROID};
	Datum		values[2];
	List	   *result = NIL;
	char	   *sql;
	uint64		row;

	sql = psprintf("SELECT dbid, content, role, preferred_role, mode, status, "
				   "port, hostname, address, datadir "
				   "FROM gp_compat.gp_segment_configuration WHERE %s "
				   "ORDER BY dbid", where);
	values[0] = Int16GetDatum(arg);
	values[1] = CharGetDatum(role);
	if (SPI_execute_with_args(sql, role != 0 ? 2 : 1, argtypes, values, NULL,
							  true, 0) != SPI_OK_SELECT)
		elog(ERROR, "gp_compat: could not read gp_segment_configuration");

	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SegConfig  *config = palloc0(sizeof(SegConfig));
		bool		isnull;

		config->dbid = DatumGetInt16(SPI_getbinval(tuple, desc, 1, &isnull));
		config->content = DatumGetInt16(SPI_getbinval(tuple, desc, 2, &isnull));
		config->role = DatumGetChar(SPI_getbinval(tuple, desc, 3, &isnull));
		config->preferred_role = DatumGetChar(SPI_getbinval(tuple, desc, 4, &isnull));
		config->mode = DatumGetChar(SPI_getbinval(tuple, desc, 5, &isnull));
		config->status = DatumGetChar(SPI_getbinval(tuple, desc, 6, &isnull));
		config->port = DatumGetInt32(SPI_getbinval(tuple, desc, 7, &isnull));
		config->hostname = SPI_getvalue(tuple, desc, 8);
		config->address = SPI_getvalue(tuple, desc, 9);
		config->datadir = SPI_getvalue(tuple, desc, 10);
		result = lappend(result, config);
	}
	return result;
}

/* Greenplum's contentid_get_dbid(): 0 if there is no such segment */
static int16
contentid_get_dbid(int16 contentid, char role, bool preferred)
{
	List	   *found;

	found = find_segconfigs(preferred ? "content = $1 AND preferred_role = $2" :
							"content = $1 AND role = $2", contentid, role);
	return found == NIL ? 0 : ((SegConfig *) linitial(found))->dbid;
}

/* Greenplum's get_availableDbId(): the lowest dbid not in use */
static int16
get_available_dbid(void)
{
	List	   *all = find_segconfigs("$1 = $1", 0, 0);
	int32		dbid;

	for (dbid = 1; dbid <= PG_INT16_MAX; dbid++)
	{
		ListCell   *lc;
		bool		used = false;

		foreach(lc, all)
		{
			if (((SegConfig *) lfirst(lc))->dbid == dbid)
			{
				used = true;
				break;
			}
		}
		if (!used)
			return (int16) dbid;
	}
	elog(ERROR, "unable to find available dbid");
	return 0;					/* keep compiler quiet */
}

static int16
get_max_column(const char *column)
{
	char	   *sql;
	bool		isnull;
	Datum		max;

	sql = psprintf("SELECT coalesce(max(%s), 0)::int2 FROM gp_compat.gp_segment_configuration",
				   column);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "gp_compat: could not read gp_segment_configuration");
	max = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt16(max);
}

static void
insert_segconfig(SegConfig *config)
{
	Oid			argtypes[10] = {INT2OID, INT2OID, CHAROID, CHAROID, CHAROID,
								CHAROID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[10];

	values[0] = Int16GetDatum(config->dbid);
	values[1] = Int16GetDatum(config->content);
	values[2] = CharGetDatum(config->role);
	values[3] = CharGetDatum(config->preferred_role);
	values[4] = CharGetDatum(config->mode);
	values[5] = CharGetDatum(config->status);
	values[6] = Int32GetDatum(config->port);
	values[7] = CStringGetTextDatum(config->hostname);
	values[8] = CStringGetTextDatum(config->address);
	values[9] = CStringGetTextDatum(config->datadir);

	execute_catalog_write("INSERT INTO gp_compat.gp_segment_configuration "
						  "(dbid, content, role, preferred_role, mode, status, "
						  "port, hostname, address, datadir) "
						  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
						  10, argtypes, values, SPI_OK_INSERT);
}

static void
remove_segconfig(int16 dbid)
{
	Oid			argtypes[1] = {INT2OID};
	Datum		values[1];

	values[0] = Int16GetDatum(dbid);
	execute_catalog_write("DELETE FROM gp_compat.gp_segment_configuration "
						  "WHERE dbid = $1",
						  1, argtypes, values, SPI_OK_DELETE);
}

/* Greenplum's get_segconfig() / dbid_get_dbinfo() */
static SegConfig *
get_segconfig(int16 dbid)
{
	List	   *found = find_segconfigs("dbid = $1", dbid, 0);

	if (found == NIL)
		elog(ERROR, "could not find configuration entry for dbid %i", dbid);
	return (SegConfig *) linitial(found);
}

/* Greenplum's add_segment(): the checks made before a new row goes in */
static void
add_segment(SegConfig *config)
{
	if (config->role == ROLE_MIRROR)
	{
		if (contentid_get_dbid(config->content, ROLE_PRIMARY, false) == 0)
			elog(ERROR, "contentid %i does not point to an existing segment",
				 config->content);

		/* no mirrors should be defined */
		if (contentid_get_dbid(config->content, ROLE_MIRROR, false) != 0)
			elog(ERROR, "segment already has a mirror defined");

		/*
		 * No preferred primary: make this one the preferred primary, so that
		 * a rebalance can bring things back.
		 */
		if (contentid_get_dbid(config->content, ROLE_PRIMARY, true) == 0 &&
			config->preferred_role == ROLE_MIRROR)
		{
			elog(NOTICE, "override preferred_role of this mirror as primary to support rebalance operation.");
			config->preferred_role = ROLE_PRIMARY;
		}
	}

	insert_segconfig(config);
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		elog(ERROR, "%s cannot be NULL", name);
	return TextDatumGetCString(PG_GETARG_DATUM(argno));
}

/*
 * gp_add_segment(dbid, content, role, preferred_role, mode, status, port,
 *				  hostname, address, datadir) returns int2
 *
 * As in Greenplum, the mode given is ignored: walrep segments start out of
 * sync, and FTS changes the mode when a mirror catches up.
 */
Datum
gp_add_segment(PG_FUNCTION_ARGS)
{
	SegConfig	new;

	MemSet(&new, 0, sizeof(SegConfig));

	if (PG_ARGISNULL(0))
		elog(ERROR, "dbid cannot be NULL");
	new.dbid = PG_GETARG_INT16(0);
	if (PG_ARGISNULL(1))
		elog(ERROR, "content cannot be NULL");
	new.content = PG_GETARG_INT16(1);
	if (PG_ARGISNULL(2))
		elog(ERROR, "role cannot be NULL");
	new.role = PG_GETARG_CHAR(2);
	if (PG_ARGISNULL(3))
		elog(ERROR, "preferred_role cannot be NULL");
	new.preferred_role = PG_GETARG_CHAR(3);
	if (PG_ARGISNULL(4))
		elog(ERROR, "mode cannot be NULL");
	new.mode = PG_GETARG_CHAR(4);
	if (PG_ARGISNULL(5))
		elog(ERROR, "status cannot be NULL");
	new.status = PG_GETARG_CHAR(5);
	if (PG_ARGISNULL(6))
		elog(ERROR, "port cannot be NULL");
	new.port = PG_GETARG_INT32(6);
	new.hostname = text_arg(fcinfo, 7, "hostname");
	new.address = text_arg(fcinfo, 8, "address");
	new.datadir = text_arg(fcinfo, 9, "datadir");

	mirroring_sanity_check(MASTER_ONLY | SUPERUSER, "gp_add_segment");

	new.mode = MODE_NOTINSYNC;
	elog(NOTICE, "mode is changed to GP_SEGMENT_CONFIGURATION_MODE_NOTINSYNC under walrep.");

	begin_catalog_change();
	add_segment(&new);
	end_catalog_change();

	PG_RETURN_INT16(new.dbid);
}

/*
 * gp_add_segment_primary(hostname, address, port, datadir) returns int2
 *
 * A new content (max + 1) with a new dbid, p/p/n/u.
 */
Datum
gp_add_segment_primary(PG_FUNCTION_ARGS)
{
	SegConfig	new;

	MemSet(&new, 0, sizeof(SegConfig));

	new.hostname = text_arg(fcinfo, 0, "hostname");
	new.address = text_arg(fcinfo, 1, "address");
	if (PG_ARGISNULL(2))
		elog(ERROR, "port cannot be NULL");
	new.port = PG_GETARG_INT32(2);
	new.datadir = text_arg(fcinfo, 3, "datadir");

	mirroring_sanity_check(MASTER_ONLY | SUPERUSER, "gp_add_segment_primary");

	begin_catalog_change();
	new.content = get_max_column("content") + 1;
	new.dbid = get_available_dbid();
	new.role = ROLE_PRIMARY;
	new.preferred_role = ROLE_PRIMARY;
	new.mode = MODE_NOTINSYNC;
	new.status = STATUS_UP;
	add_segment(&new);
	end_catalog_change();

	PG_RETURN_INT16(new.dbid);
}

/*
 * gp_add_segment_mirror(content, hostname, address, port, datadir)
 *		returns int2
 *
 * A mirror with the lowest free dbid, m/m/n/d.
 */
Datum
gp_add_segment_mirror(PG_FUNCTION_ARGS)
{
	SegConfig	new;

	MemSet(&new, 0, sizeof(SegConfig));

	if (PG_ARGISNULL(0))
		elog(ERROR, "contentid cannot be NULL");
	new.content = PG_GETARG_INT16(0);
	new.hostname = text_arg(fcinfo, 1, "hostname");
	new.address = text_arg(fcinfo, 2, "address");
	if (PG_ARGISNULL(3))
		elog(ERROR, "port cannot be NULL");
	new.port = PG_GETARG_INT32(3);
	new.datadir = text_arg(fcinfo, 4, "datadir");

	mirroring_sanity_check(MASTER_ONLY | SUPERUSER, "gp_add_segment_mirror");

	begin_catalog_change();
	new.dbid = get_available_dbid();
	new.mode = MODE_NOTINSYNC;
	new.status = STATUS_DOWN;
	new.role = ROLE_MIRROR;
	new.preferred_role = ROLE_MIRROR;
	add_segment(&new);
	end_catalog_change();

	PG_RETURN_INT16(new.dbid);
}

/*
 * gp_remove_segment_mirror(content) returns bool
 *
 * Deletes the row of the content's current mirror.
 */
Datum
gp_remove_segment_mirror(PG_FUNCTION_ARGS)
{
	int16		contentid;
	int16		mirdbid;

	if (PG_ARGISNULL(0))
		elog(ERROR, "dbid cannot be NULL");
	contentid = PG_GETARG_INT16(0);

	mirroring_sanity_check(MASTER_ONLY | SUPERUSER, "gp_remove_segment_mirror");

	begin_catalog_change();

	if (contentid_get_dbid(contentid, ROLE_PRIMARY, false) == 0)
		elog(ERROR, "no dbid for contentid %i", contentid);

	mirdbid = contentid_get_dbid(contentid, ROLE_MIRROR, false);
	if (mirdbid == 0)
		elog(ERROR, "segment does not have a mirror");

	get_segconfig(mirdbid);
	remove_segconfig(mirdbid);

	end_catalog_change();

	PG_RETURN_BOOL(true);
}

/*
 * gp_remove_segment(dbid) returns bool
 */
Datum
gp_remove_segment(PG_FUNCTION_ARGS)
{
	int16		dbid;

	if (PG_ARGISNULL(0))
		elog(ERROR, "dbid cannot be NULL");
	dbid = PG_GETARG_INT16(0);

	mirroring_sanity_check(MASTER_ONLY | SUPERUSER | UTILITY_MODE,
						   "gp_remove_segment");

	begin_catalog_change();
	get_segconfig(dbid);
	remove_segconfig(dbid);
	end_catalog_change();

	PG_RETURN_BOOL(true);
}

/*
 * gp_add_master_standby(hostname, address, datadir [, port]) returns int2
 *
 * The standby is a copy of the coordinator's row with dbid max + 1, m/m/s/u.
 */
Datum
gp_add_master_standby(PG_FUNCTION_ARGS)
{
	SegConfig  *config;
	int16		master_dbid;
	char	   *hostname = text_arg(fcinfo, 0, "host name");
	char	   *address = text_arg(fcinfo, 1, "address");
	char	   *datadir = text_arg(fcinfo, 2, "datadir");

	mirroring_sanity_check(MASTER_ONLY | UTILITY_MODE, "gp_add_master_standby");

	begin_catalog_change();

	if (contentid_get_dbid(MASTER_CONTENT_ID, ROLE_MIRROR, false) != 0)
		elog(ERROR, "only a single master standby may be defined");

	master_dbid = contentid_get_dbid(MASTER_CONTENT_ID, ROLE_PRIMARY, false);
	config = get_segconfig(master_dbid);

	config->dbid = get_max_column("dbid") + 1;
	config->role = ROLE_MIRROR;
	config->preferred_role = ROLE_MIRROR;
	config->mode = MODE_INSYNC;
	config->status = STATUS_UP;
	config->hostname = hostname;
	config->address = address;
	config->datadir = datadir;
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		config->port = PG_GETARG_INT32(3);

	insert_segconfig(config);

	end_catalog_change();

	PG_RETURN_INT16(config->dbid);
}

/*
 * gp_remove_master_standby() returns bool
 */
Datum
gp_remove_master_standby(PG_FUNCTION_ARGS)
{
	int16		dbid;

	mirroring_sanity_check(SUPERUSER | MASTER_ONLY | UTILITY_MODE,
						   "gp_remove_master_standby");

	begin_catalog_change();

	dbid = contentid_get_dbid(MASTER_CONTENT_ID, ROLE_MIRROR, false);
	if (!dbid)
		elog(ERROR, "no master standby defined");
	remove_segconfig(dbid);

	end_catalog_change();

	PG_RETURN_BOOL(true);
}

/*
 * gp_request_fts_probe_scan() returns bool
 *
 * As Greenplum's: refused outside a dispatch session; otherwise wakes the
 * FTS worker and returns true once a whole probe round that started after
 * the call has finished (fts.c), false if none did in time.
 */
Datum
gp_request_fts_probe_scan(PG_FUNCTION_ARGS)
{
	if (Gp_role != GP_ROLE_DISPATCH)
		ereport(ERROR,
				(errmsg("this function can only be called by master (without utility mode)")));

	PG_RETURN_BOOL(gp_compat_fts_request());
}
