/*-------------------------------------------------------------------------
 *
 * gp_compat.c
 *	  Greenplum 7's management interface on a stock PostgreSQL 15 server:
 *	  the role and identity GUCs, the connection refusals of segments, of
 *	  a coordinator started in utility mode and of restricted mode, and the
 *	  protection of the segment catalog.  The catalog itself is in
 *	  catalog.c.
 *
 * The library must be loaded with shared_preload_libraries (by absolute
 * path).  Where PostgreSQL and Greenplum differ, the comments say how the gap
 * is bridged; compat/README.md has the whole list.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "executor/executor.h"
#include "fmgr.h"

/*
 * Debian's PostgreSQL is built with GSSAPI, so libpq-be.h wants
 * <gssapi/gssapi.h> (libkrb5-dev), which a build of this module should not
 * need.  Without ENABLE_GSS the header declares Port's "gss" member as
 * "void *" instead of "pg_gssinfo *": the layout of Port is the same, and
 * this module reads none of the GSSAPI state.
 */
#undef ENABLE_GSS
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/postmaster.h"
#include "replication/walsender.h"
#include "storage/fd.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "gp_compat.h"

PG_MODULE_MAGIC;


/* Name of Greenplum's own identity file in the data directory */
#define INTERNAL_AUTO_CONF		"internal.auto.conf"

int			Gp_role = GP_ROLE_UNDEFINED;
int			Gp_postmaster_role = GP_ROLE_UNDEFINED;
int			GpIdentity_dbid = UNINITIALIZED_GP_IDENTITY_VALUE;
int			GpIdentity_segindex = UNINITIALIZED_GP_IDENTITY_VALUE;
int			gp_compat_internal_write_depth = 0;

/* Storage of the GUCs; the effective values live in the variables above */
static int	compat_postmaster_role = GP_ROLE_UNDEFINED;
static int	compat_contentid = UNINITIALIZED_GP_IDENTITY_VALUE;
static int	compat_dbid = UNINITIALIZED_GP_IDENTITY_VALUE;
static bool compat_maintenance_mode = false;
static bool compat_upgrade_mode = false;
static int	compat_superuser_reserved = 0;
static int	session_role_guc = GP_ROLE_UNDEFINED;
static int	session_role_alias_guc = GP_ROLE_UNDEFINED;
static int	dbid_guc;
static int	contentid_guc;
static char *server_version_guc;
static int	server_version_num_guc;

static const struct config_enum_entry gp_role_options[] = {
	{"dispatch", GP_ROLE_DISPATCH, false},
	{"execute", GP_ROLE_EXECUTE, false},
	{"utility", GP_ROLE_UTILITY, false},
	{"undefined", GP_ROLE_UNDEFINED, true},
	{NULL, 0, false}
};

static ClientAuthentication_hook_type prev_client_authentication_hook = NULL;
static ExecutorCheckPerms_hook_type prev_executor_check_perms_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

void		_PG_init(void);

static void read_internal_auto_conf(void);
static void assign_session_role(int newval, void *extra);
static const char *show_session_role(void);
static void check_client_role(Port *port, int status);
static void check_reserved_connections(Port *port);
static GpRoleValue requested_session_role(Port *port, bool *invalid);
static bool check_catalog_perms(List *rangeTable, bool ereport_on_violation);
static void check_catalog_utility(PlannedStmt *pstmt, const char *queryString,
								  bool readOnlyTree,
								  ProcessUtilityContext context,
								  ParamListInfo params,
								  QueryEnvironment *queryEnv,
								  DestReceiver *dest, QueryCompletion *qc);

const char *
gp_role_name(int role)
{
	switch (role)
	{
		case GP_ROLE_DISPATCH:
			return "dispatch";
		case GP_ROLE_EXECUTE:
			return "execute";
		case GP_ROLE_UTILITY:
			return "utility";
		default:
			return "undefined";
	}
}

/*
 * Module load.  Runs in the postmaster, which makes every GUC below, and the
 * identity read from the data directory, part of what each backend inherits.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gp_compat must be loaded via shared_preload_libraries")));

	/*
	 * Postmaster-level settings.  Greenplum's gp_role, gp_contentid and
	 * gp_dbid are core GUCs that can be given in postgresql.conf and on the
	 * postmaster's command line.  PostgreSQL rejects undotted names it does
	 * not know in both places (the library is loaded only after they are
	 * read), so the compat GPHOME uses dotted names there:
	 * gp_compat.gp_contentid in postgresql.conf, and gp_compat.gp_role on
	 * the command line, into which the pg_ctl shim translates "-c
	 * gp_role=...".  The dotted name keeps the substring "gp_role=utility"
	 * in postmaster.opts, which is how Greenplum's utilities detect a
	 * coordinator running in utility mode.
	 */
	DefineCustomEnumVariable("gp_compat.gp_role",
							 "Role of this instance (Greenplum's postmaster gp_role).",
							 "The pg_ctl shim translates -c gp_role=... into this setting. "
							 "When unset, content -1 means dispatch and any other content execute.",
							 &compat_postmaster_role,
							 GP_ROLE_UNDEFINED,
							 gp_role_options,
							 PGC_POSTMASTER,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("gp_compat.gp_contentid",
							"Content id of this instance (Greenplum's gp_contentid).",
							NULL,
							&compat_contentid,
							UNINITIALIZED_GP_IDENTITY_VALUE,
							UNINITIALIZED_GP_IDENTITY_VALUE, PG_INT16_MAX,
							PGC_POSTMASTER,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("gp_compat.gp_dbid",
							"Overrides gp_dbid of internal.auto.conf.",
							NULL,
							&compat_dbid,
							UNINITIALIZED_GP_IDENTITY_VALUE,
							UNINITIALIZED_GP_IDENTITY_VALUE, PG_INT16_MAX,
							PGC_POSTMASTER,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	/* Greenplum's postmaster -m and -U; recorded, not enforced */
	DefineCustomBoolVariable("gp_compat.gp_maintenance_mode",
							 "Set by the pg_ctl shim for a postmaster -m option; no effect.",
							 NULL,
							 &compat_maintenance_mode,
							 false,
							 PGC_POSTMASTER,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("gp_compat.gp_upgrade_mode",
							 "Set by the pg_ctl shim for a postmaster -U option; no effect.",
							 NULL,
							 &compat_upgrade_mode,
							 false,
							 PGC_POSTMASTER,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	/*
	 * Greenplum's restricted mode (gpstart -R) starts the coordinator with
	 * "-c superuser_reserved_connections=<max_connections>", so that only
	 * superusers can connect.  Greenplum's postmaster accepts a value equal
	 * to max_connections; PostgreSQL's refuses it.  The shims translate the
	 * option into this setting, which check_client_role() enforces, and
	 * PostgreSQL's own superuser_reserved_connections keeps its value.
	 */
	DefineCustomIntVariable("gp_compat.superuser_reserved_connections",
							"Greenplum's postmaster superuser_reserved_connections, which may equal max_connections.",
							"The pg_ctl shim translates -c superuser_reserved_connections=... into this setting.",
							&compat_superuser_reserved,
							0,
							0, MAX_BACKENDS,
							PGC_POSTMASTER,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	/* the deadline of the catalog views' remote reads */
	gp_compat_remote_init();

	/* FTS settings; the probe worker is registered at the end */
	gp_compat_fts_init();

	MarkGUCPrefixReserved("gp_compat");

	/*
	 * Identity.  Greenplum refuses to start without it, and so do we: an
	 * instance that does not know whether it is a segment could accept the
	 * sessions a segment must refuse.
	 */
	if (compat_contentid == UNINITIALIZED_GP_IDENTITY_VALUE)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("gp_compat.gp_contentid is not set"),
				 errhint("Add \"gp_compat.gp_contentid = <content>\" to postgresql.conf (Greenplum's gp_contentid).")));
	GpIdentity_segindex = compat_contentid;

	GpIdentity_dbid = compat_dbid;
	if (GpIdentity_dbid == UNINITIALIZED_GP_IDENTITY_VALUE)
		read_internal_auto_conf();
	if (GpIdentity_dbid == UNINITIALIZED_GP_IDENTITY_VALUE)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("gp_dbid is not set"),
				 errhint("Write \"gp_dbid=<dbid>\" into \"%s/%s\", as Greenplum does.",
						 DataDir, INTERNAL_AUTO_CONF)));

	/* Greenplum's postmaster check, relaxed by Greenplum to allow equality */
	if (compat_superuser_reserved > MaxConnections)
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("superuser_reserved_connections (%d) must be less than max_connections (%d)",
						compat_superuser_reserved, MaxConnections)));

	Gp_postmaster_role = compat_postmaster_role;
	if (Gp_postmaster_role == GP_ROLE_UNDEFINED)
		Gp_postmaster_role = (GpIdentity_segindex == MASTER_CONTENT_ID) ?
			GP_ROLE_DISPATCH : GP_ROLE_EXECUTE;
	Gp_role = Gp_postmaster_role;

	/*
	 * Session role.  Greenplum 7 has gp_role alone; Greenplum 6 clients send
	 * gp_session_role, which compat accepts as a synonym.  Both are
	 * PGC_BACKEND: given in the connection's options, never SET later.
	 * Their boot value is the postmaster's role, so that a session that asks
	 * for nothing shows what the instance is.
	 */
	session_role_guc = Gp_postmaster_role;
	session_role_alias_guc = Gp_postmaster_role;

	DefineCustomEnumVariable("gp_role",
							 "Role of this session: dispatch, execute or utility.",
							 NULL,
							 &session_role_guc,
							 Gp_postmaster_role,
							 gp_role_options,
							 PGC_BACKEND,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, assign_session_role, show_session_role);

	DefineCustomEnumVariable("gp_session_role",
							 "Greenplum 6 name of gp_role.",
							 NULL,
							 &session_role_alias_guc,
							 Gp_postmaster_role,
							 gp_role_options,
							 PGC_BACKEND,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, assign_session_role, show_session_role);

	dbid_guc = GpIdentity_dbid;
	DefineCustomIntVariable("gp_dbid",
							"Database id of this instance.",
							NULL,
							&dbid_guc,
							GpIdentity_dbid,
							UNINITIALIZED_GP_IDENTITY_VALUE, PG_INT16_MAX,
							PGC_INTERNAL,
							GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, NULL);

	contentid_guc = GpIdentity_segindex;
	DefineCustomIntVariable("gp_contentid",
							"Content id of this instance (-1 for the coordinator).",
							NULL,
							&contentid_guc,
							GpIdentity_segindex,
							UNINITIALIZED_GP_IDENTITY_VALUE, PG_INT16_MAX,
							PGC_INTERNAL,
							GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("gp_server_version",
							   "Greenplum version this server imitates.",
							   NULL,
							   &server_version_guc,
							   GP_COMPAT_VERSION,
							   PGC_INTERNAL,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, NULL, NULL);

	server_version_num_guc = GP_COMPAT_VERSION_NUM;
	DefineCustomIntVariable("gp_server_version_num",
							"Greenplum version this server imitates, as an integer.",
							NULL,
							&server_version_num_guc,
							GP_COMPAT_VERSION_NUM,
							GP_COMPAT_VERSION_NUM, GP_COMPAT_VERSION_NUM,
							PGC_INTERNAL,
							GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, NULL);

	prev_client_authentication_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = check_client_role;

	prev_executor_check_perms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = check_catalog_perms;

	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = check_catalog_utility;

	gp_compat_version_init();
	gp_compat_dispatch_init();

	gp_compat_fts_register();
}

/*
 * Read gp_dbid from internal.auto.conf, where Greenplum keeps it (written by
 * gpinitsystem and by pg_basebackup --target-gp-dbid).  The postmaster runs
 * in the data directory when shared libraries are preloaded.
 */
static void
read_internal_auto_conf(void)
{
	FILE	   *file;
	char		line[1024];

	file = AllocateFile(INTERNAL_AUTO_CONF, "r");
	if (file == NULL)
		return;

	while (fgets(line, sizeof(line), file) != NULL)
	{
		char	   *p = line;
		char	   *end;
		long		value;

		while (isspace((unsigned char) *p))
			p++;
		if (strncmp(p, "gp_dbid", 7) != 0)
			continue;
		p += 7;
		while (isspace((unsigned char) *p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (isspace((unsigned char) *p) || *p == '\'')
			p++;
		errno = 0;
		value = strtol(p, &end, 10);
		if (errno != 0 || end == p || value < 0 || value > PG_INT16_MAX)
			ereport(FATAL,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("invalid gp_dbid in \"%s\"", INTERNAL_AUTO_CONF)));
		GpIdentity_dbid = (int) value;
	}
	FreeFile(file);
}

/* gp_role and gp_session_role both set the one session role */
static void
assign_session_role(int newval, void *extra)
{
	Gp_role = newval;
}

static const char *
show_session_role(void)
{
	return gp_role_name(Gp_role);
}

/*
 * Refuse the sessions Greenplum refuses (its InitPostgres() does this after
 * reading the startup options; the ClientAuthentication hook runs before
 * they are applied, so we read them from the startup packet ourselves).
 *
 * - A segment (started with role execute) accepts only utility-mode
 *   sessions; Greenplum also admits its dispatcher's sessions, which do not
 *   exist here.
 * - A coordinator started in utility mode accepts only sessions that ask
 *   for utility mode themselves.
 * - The last gp_compat.superuser_reserved_connections slots are for
 *   superusers (restricted mode; see check_reserved_connections()).
 * - Physical replication connections (walreceivers, pg_basebackup) are
 *   never refused, as in Greenplum.
 */
static void
check_client_role(Port *port, int status)
{
	GpRoleValue requested;
	bool		invalid = false;

	if (prev_client_authentication_hook)
		prev_client_authentication_hook(port, status);

	if (status != STATUS_OK)
		return;
	if (am_walsender && !am_db_walsender)
		return;

	/* Greenplum checks the reserved slots before it reads the options */
	check_reserved_connections(port);

	requested = requested_session_role(port, &invalid);

	/* leave a bad value to the GUC machinery, which reports it */
	if (invalid)
		return;

	if (Gp_postmaster_role == GP_ROLE_EXECUTE && requested != GP_ROLE_UTILITY)
		ereport(FATAL,
				(errcode(ERRCODE_CANNOT_CONNECT_NOW),
				 errmsg("connections to primary segments are not allowed"),
				 errdetail("This database instance is running as a primary segment in a Greenplum cluster and does not permit direct connections."),
				 errhint("To force a connection anyway (dangerous!), use utility mode.")));

	if (Gp_postmaster_role == GP_ROLE_UTILITY && requested != GP_ROLE_UTILITY)
		ereport(FATAL,
				(errcode(ERRCODE_CANNOT_CONNECT_NOW),
				 errmsg("System was started in single node mode - only utility mode connections are allowed")));
}

/*
 * Greenplum's InitPostgres() refuses a non-superuser when fewer than
 * superuser_reserved_connections regular connection slots are free, the
 * check PostgreSQL makes; with the setting equal to max_connections (gpstart
 * -R) no slot is ever free enough, so only superusers get in.  The role is
 * looked up the way hba.c looks it up during authentication; an unknown role
 * is left to InitializeSessionUserId(), which reports it, as in Greenplum.
 */
static void
check_reserved_connections(Port *port)
{
	Oid			roleid;

	if (compat_superuser_reserved <= 0)
		return;

	roleid = get_role_oid(port->user_name, true);
	if (!OidIsValid(roleid) || superuser_arg(roleid))
		return;

	if (compat_superuser_reserved >= MaxConnections ||
		!HaveNFreeProcs(compat_superuser_reserved))
		ereport(FATAL,
				(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
				 errmsg("remaining connection slots are reserved for non-replication superuser connections")));
}

/* Is this the name of the session role setting? */
static bool
is_role_setting(const char *name)
{
	return pg_strcasecmp(name, "gp_role") == 0 ||
		pg_strcasecmp(name, "gp_session_role") == 0;
}

static GpRoleValue
parse_role(const char *value, bool *invalid)
{
	const struct config_enum_entry *entry;

	for (entry = gp_role_options; entry->name != NULL; entry++)
	{
		if (!entry->hidden && pg_strcasecmp(value, entry->name) == 0)
			return (GpRoleValue) entry->val;
	}
	*invalid = true;
	return GP_ROLE_UNDEFINED;
}

/*
 * The session role a client asked for in its startup packet, the way
 * process_startup_options() will apply it: first the command-line style
 * "options" ("-c name=value", "-cname=value", "--name=value"), then the
 * separate startup parameters; the last setting wins.
 */
static GpRoleValue
requested_session_role(Port *port, bool *invalid)
{
	GpRoleValue result = GP_ROLE_UNDEFINED;
	ListCell   *lc;

	if (port->cmdline_options != NULL)
	{
		char	  **av;
		int			maxac;
		int			ac = 0;
		int			i;

		maxac = 2 + (strlen(port->cmdline_options) + 1) / 2;
		av = (char **) palloc(maxac * sizeof(char *));
		av[ac++] = "postgres";
		pg_split_opts(av, &ac, port->cmdline_options);

		for (i = 1; i < ac; i++)
		{
			const char *opt;
			char	   *name;
			char	   *value;

			if (strcmp(av[i], "-c") == 0 && i + 1 < ac)
				opt = av[++i];
			else if (strncmp(av[i], "-c", 2) == 0 && av[i][2] != '\0')
				opt = av[i] + 2;
			else if (strncmp(av[i], "--", 2) == 0)
				opt = av[i] + 2;
			else
				continue;

			ParseLongOption(opt, &name, &value);
			if (value != NULL && is_role_setting(name))
				result = parse_role(value, invalid);
		}
	}

	for (lc = list_head(port->guc_options); lc != NULL;
		 lc = lnext(port->guc_options, lc))
	{
		const char *name = lfirst(lc);
		const char *value;

		lc = lnext(port->guc_options, lc);
		if (lc == NULL)
			break;
		value = lfirst(lc);
		if (is_role_setting(name))
			result = parse_role(value, invalid);
	}

	return result;
}

/*
 * Is relid one of the segment catalog's relations: the views
 * pg_catalog.gp_segment_configuration and gp_configuration_history, or
 * their storage in schema gp_compat?
 */
static bool
is_segment_catalog(Oid relid)
{
	Oid			nspid = get_rel_namespace(relid);
	char	   *relname;

	if (!OidIsValid(nspid))
		return false;
	if (nspid != PG_CATALOG_NAMESPACE &&
		nspid != get_namespace_oid("gp_compat", true))
		return false;

	relname = get_rel_name(relid);
	return relname != NULL &&
		(strcmp(relname, "gp_segment_configuration") == 0 ||
		 strcmp(relname, "gp_configuration_history") == 0);
}

static void
refuse_catalog_write(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: \"%s\" is a system catalog",
					get_rel_name(relid))));
}

/*
 * Greenplum's catalog tables refuse INSERT, UPDATE and DELETE unless
 * allow_system_table_mods is on.  PostgreSQL 15 protects only relations with
 * OIDs below FirstUnpinnedObjectId, so this hook does it for ours.  Writes
 * made by gp_add_segment() and friends are let through, as in Greenplum.
 */
static bool
check_catalog_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	if (prev_executor_check_perms_hook &&
		!prev_executor_check_perms_hook(rangeTable, ereport_on_violation))
		return false;

	if (allowSystemTableMods || gp_compat_internal_write_depth > 0)
		return true;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION)
			continue;
		if ((rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) == 0)
			continue;
		if (!is_segment_catalog(rte->relid))
			continue;
		if (!ereport_on_violation)
			return false;
		refuse_catalog_write(rte->relid);
	}
	return true;
}

static void
check_relation_ddl(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	if (OidIsValid(relid) && is_segment_catalog(relid))
		refuse_catalog_write(relid);
}

/*
 * The same protection against DDL (TRUNCATE, DROP, ALTER, RENAME), which
 * Greenplum refuses for every system catalog.
 */
static void
check_catalog_utility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	ListCell   *lc;

	if (!allowSystemTableMods)
	{
		switch (nodeTag(parsetree))
		{
			case T_TruncateStmt:
				foreach(lc, ((TruncateStmt *) parsetree)->relations)
					check_relation_ddl(lfirst_node(RangeVar, lc));
				break;
			case T_AlterTableStmt:
				check_relation_ddl(((AlterTableStmt *) parsetree)->relation);
				break;
			case T_RenameStmt:
				if (((RenameStmt *) parsetree)->relation)
					check_relation_ddl(((RenameStmt *) parsetree)->relation);
				break;
			case T_DropStmt:
				{
					DropStmt   *stmt = (DropStmt *) parsetree;

					if (stmt->removeType == OBJECT_SCHEMA)
					{
						foreach(lc, stmt->objects)
						{
							if (strcmp(strVal(lfirst(lc)), "gp_compat") == 0)
								ereport(ERROR,
										(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
										 errmsg("permission denied: \"gp_compat\" holds the segment catalog")));
						}
					}
					else if (stmt->removeType == OBJECT_TABLE ||
							 stmt->removeType == OBJECT_VIEW)
					{
						foreach(lc, stmt->objects)
							check_relation_ddl(makeRangeVarFromNameList(lfirst(lc)));
					}
				}
				break;
			default:
				break;
		}
	}

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}
