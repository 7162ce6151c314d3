/*
 * version.c -- version() in Greenplum's shape.
 *
 * Greenplum's version() reads "PostgreSQL <pg> (Greenplum Database <gp>
 * build <build>) on <platform>", and the management tools read the product
 * and release from the parentheses (gpstate -i compares them across
 * instances, every tool logs the coordinator's).  The bed answers the same
 * with its own release: "PostgreSQL 15.x (Greenplum Database 7.1.0-compat
 * build dev) on ...".
 *
 * PostgreSQL calls built-in functions by OID, whatever pg_proc says, so the
 * built-in version() cannot be replaced in the catalog.  Instead, each
 * query's calls of it are pointed, when the query is analysed, at
 * gp_compat.version() (gp_compat.sql), when that function exists in the
 * database.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "access/xact.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pg_list.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"

#include "gp_compat.h"

static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;

PG_FUNCTION_INFO_V1(gp_compat_version);

Datum
gp_compat_version(PG_FUNCTION_ARGS)
{
	const char *platform = strstr(PG_VERSION_STR, " on ");

	/* PG_VERSION carries the packager's suffix ("15.20 (Debian ...)") */
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("PostgreSQL %d.%d (Greenplum Database %s build dev)%s",
											  PG_VERSION_NUM / 10000, PG_VERSION_NUM % 100,
											  GP_COMPAT_VERSION, platform ? platform : "")));
}

/* The OID of gp_compat.version() in this database, InvalidOid if none. */
static Oid
compat_version_oid(void)
{
	List	   *name = list_make2(makeString("gp_compat"), makeString("version"));

	return LookupFuncName(name, 0, NULL, true);
}

static bool
point_version_calls(Node *node, void *context)
{
	Oid		   *replacement = (Oid *) context;

	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == F_VERSION)
	{
		if (*replacement == InvalidOid)
			*replacement = compat_version_oid();
		if (OidIsValid(*replacement))
			((FuncExpr *) node)->funcid = *replacement;
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, point_version_calls, context, 0);
	return expression_tree_walker(node, point_version_calls, context);
}

static void
compat_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	Oid			replacement = InvalidOid;

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	if (IsTransactionState())
		(void) query_tree_walker(query, point_version_calls, &replacement, 0);
}

void
gp_compat_version_init(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = compat_post_parse_analyze;
}
