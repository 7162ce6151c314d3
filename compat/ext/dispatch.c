/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  The one part of Greenplum's dispatcher the management utilities rely
 *	  on: a statement that needs every segment fails while a content has no
 *	  serving primary.
 *
 * Greenplum runs a distributed statement on a gang of one backend per
 * content, on each content's acting primary as the catalog names it.  When
 * one of those primaries is down, or is a mirror still being promoted, the
 * gang cannot be formed and the statement fails with "failed to acquire
 * resources on one or more segments".  gprecoverseg -r relies on exactly
 * that: after stopping the primaries it wants to give back, it retries
 * "CREATE TEMP TABLE" in a new session until it succeeds, which proves that
 * FTS promoted the mirrors (spec §4.11 step 7).
 *
 * The compat bed has no gangs: a statement runs on the coordinator alone.
 * This hook gives CREATE TEMP TABLE in a dispatch session on the
 * coordinator the same precondition: every content's catalog primary must
 * be marked up, accept a utility connection, and not be in recovery.
 * Other statements are not checked (README, "Differences").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class_d.h"
#include "executor/spi.h"
#include "libpq-fe.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "gp_compat.h"

/* How long one primary may take to accept the check's connection, and to answer it, seconds */
#define GANG_CONNECT_TIMEOUT 5

static ProcessUtility_hook_type prev_process_utility_hook = NULL;

/* One content's catalog primary */
typedef struct GangMember
{
	int			content;
	char		status;
	char	   *address;
	int			port;
} GangMember;

/*
 * The catalog primary of every content >= 0, in content order, read with
 * SPI through the gp_segment_configuration view (which reads template1's
 * rows from any database).
 */
static List *
catalog_primaries(void)
{
	List	   *members = NIL;
	MemoryContext caller = CurrentMemoryContext;
	uint64		row;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT content, status, address, port "
					"FROM pg_catalog.gp_segment_configuration "
					"WHERE content >= 0 AND role = 'p' ORDER BY content",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "gp_compat: could not read gp_segment_configuration");
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *content = SPI_getvalue(tuple, desc, 1);
		char	   *status = SPI_getvalue(tuple, desc, 2);
		char	   *address = SPI_getvalue(tuple, desc, 3);
		char	   *port = SPI_getvalue(tuple, desc, 4);
		MemoryContext spi;
		GangMember *m;

		if (content == NULL || status == NULL || address == NULL || port == NULL)
			elog(ERROR, "gp_compat: a primary's row in gp_segment_configuration has a NULL column");
		/* the list outlives SPI_finish: it lives in the caller's context */
		spi = MemoryContextSwitchTo(caller);
		m = palloc(sizeof(GangMember));
		m->content = pg_strtoint32(content);
		m->status = status[0];
		m->address = pstrdup(address);
		m->port = pg_strtoint32(port);
		members = lappend(members, m);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return members;
}

/*
 * Why member cannot serve a gang, or NULL if it can: it is marked down, it
 * refuses a utility connection, or it is still in recovery.
 */
static char *
member_problem(GangMember *m)
{
	const char *keywords[7];
	const char *values[7];
	PGconn	   *conn;
	PGresult   *res;
	char	   *problem = NULL;
	char	   *error = NULL;

	if (m->status != 'u')
		return psprintf("content %d: its primary is marked down", m->content);

	keywords[0] = "host";
	values[0] = m->address;
	keywords[1] = "port";
	values[1] = psprintf("%d", m->port);
	keywords[2] = "dbname";
	values[2] = "template1";
	keywords[3] = "user";
	values[3] = GetUserNameFromId(GetSessionUserId(), false);
	keywords[4] = "options";
	/* a primary that accepts the session but stalls is bounded there too */
	values[4] = psprintf("-c gp_role=utility -c statement_timeout=%ds", GANG_CONNECT_TIMEOUT);
	keywords[5] = "connect_timeout";
	values[5] = psprintf("%d", GANG_CONNECT_TIMEOUT);
	keywords[6] = NULL;
	values[6] = NULL;

	/*
	 * remote.c: the wait here has a deadline, and a cancel or
	 * statement_timeout of this session ends it.
	 */
	conn = gp_compat_remote_connect(keywords, values, GANG_CONNECT_TIMEOUT, &error);
	if (conn == NULL)
		return psprintf("%s (seg%d %s:%d)", error, m->content, m->address, m->port);
	/* the connection is closed on every path, an interrupt's included */
	PG_TRY();
	{
		res = gp_compat_remote_exec(conn, "SELECT pg_catalog.pg_is_in_recovery()", 0, NULL,
									GANG_CONNECT_TIMEOUT, &error);
		if (res == NULL)
			problem = psprintf("%s (seg%d %s:%d)", error, m->content, m->address, m->port);
		else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			problem = psprintf("the primary of content %d is still in recovery (seg%d %s:%d)",
							   m->content, m->content, m->address, m->port);
		PQclear(res);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	return problem;
}

/*
 * Refuse the statement, with Greenplum's message, unless every content has
 * a serving primary.  All problems are named in the detail.
 */
static void
require_gang(void)
{
	List	   *members = catalog_primaries();
	StringInfoData detail;
	ListCell   *lc;
	int			failed = 0;

	initStringInfo(&detail);
	foreach(lc, members)
	{
		char	   *problem;

		CHECK_FOR_INTERRUPTS();
		problem = member_problem(lfirst(lc));

		if (problem == NULL)
			continue;
		if (failed++ > 0)
			appendStringInfoChar(&detail, '\n');
		appendStringInfoString(&detail, problem);
	}
	if (failed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("failed to acquire resources on one or more segments"),
				 errdetail_internal("%s", detail.data)));
}

static bool
is_temp_table_creation(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			return ((CreateStmt *) parsetree)->relation->relpersistence == RELPERSISTENCE_TEMP;
		case T_CreateTableAsStmt:
			{
				CreateTableAsStmt *stmt = (CreateTableAsStmt *) parsetree;

				return stmt->objtype == OBJECT_TABLE &&
					stmt->into->rel->relpersistence == RELPERSISTENCE_TEMP;
			}
		default:
			return false;
	}
}

static void
dispatch_utility(PlannedStmt *pstmt, const char *queryString,
				 bool readOnlyTree, ProcessUtilityContext context,
				 ParamListInfo params, QueryEnvironment *queryEnv,
				 DestReceiver *dest, QueryCompletion *qc)
{
	if (Gp_role == GP_ROLE_DISPATCH &&
		GpIdentity_segindex == MASTER_CONTENT_ID &&
		is_temp_table_creation(pstmt->utilityStmt))
		require_gang();

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

void
gp_compat_dispatch_init(void)
{
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = dispatch_utility;
}
