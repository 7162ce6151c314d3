/*-------------------------------------------------------------------------
 *
 * gp_compat.h
 *	  Shared declarations of the gp_compat server extension, which gives a
 *	  stock PostgreSQL 15 instance the interface Greenplum 7 offers to its
 *	  management utilities (see compat/README.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef GP_COMPAT_H
#define GP_COMPAT_H

/* Greenplum's GpRoleValue, minus GP_ROLE_UNDEFINED's uses we do not need */
typedef enum GpRoleValue
{
	GP_ROLE_UNDEFINED = 0,
	GP_ROLE_UTILITY,
	GP_ROLE_DISPATCH,
	GP_ROLE_EXECUTE
} GpRoleValue;

/* As in Greenplum's cdbvars.h */
#define UNINITIALIZED_GP_IDENTITY_VALUE (-10000)
#define MASTER_CONTENT_ID (-1)

/* Role of this session (Greenplum's Gp_role) */
extern int	Gp_role;

/* Role the postmaster was started with (dispatch, execute or utility) */
extern int	Gp_postmaster_role;

/* Identity of this instance (Greenplum's GpIdentity) */
extern int	GpIdentity_dbid;
extern int	GpIdentity_segindex;

/*
 * Set while the extension's own functions write the segment catalog, so that
 * the allow_system_table_mods check lets them through, as Greenplum's
 * gp_add_segment() and friends write their catalog without it.
 */
extern int	gp_compat_internal_write_depth;

extern const char *gp_role_name(int role);
extern void gp_compat_catalog_init(void);

/*
 * What this server says it is.  The format of the version string follows
 * Greenplum's GP_VERSION ("7.1.0 build dev"), with a "-compat" tag so that
 * nobody mistakes the test bed for a real Greenplum.
 */
#define GP_COMPAT_VERSION		"7.1.0-compat"
#define GP_COMPAT_VERSION_NUM	70100

/* version.c */
extern void gp_compat_version_init(void);

/* dispatch.c */
extern void gp_compat_dispatch_init(void);

/*
 * libpq sessions that a deadline ends and an interrupt cancels (remote.c);
 * the libpq types are opaque here.
 */
struct pg_conn;
struct pg_result;
extern int	gp_compat_remote_query_timeout;
extern void gp_compat_remote_init(void);
extern struct pg_conn *gp_compat_remote_connect(const char *const *keywords,
												const char *const *values,
												int timeout_s, char **error);
extern struct pg_result *gp_compat_remote_exec(struct pg_conn *conn, const char *sql,
											   int nparams, const char *const *params,
											   int timeout_s, char **error);
extern bool gp_compat_remote_command(struct pg_conn *conn, const char *sql,
									 int nparams, const char *const *params,
									 int timeout_s, char **error);

/* FTS (fts.c) */
extern void gp_compat_fts_init(void);
extern void gp_compat_fts_register(void);
extern bool gp_compat_fts_request(void);

#endif							/* GP_COMPAT_H */
