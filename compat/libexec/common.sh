# common.sh -- functions shared by the compat GPHOME's shims (POSIX sh).
# Sourced, not run.  @PGBINDIR@ is replaced when the GPHOME is assembled.

# The real PostgreSQL 15 programs
PGBIN='@PGBINDIR@'

# gp_compat_backend_opts OPTS
#	Print OPTS, a postmaster option string as given to pg_ctl -o, with
#	Greenplum's postmaster options turned into the dotted settings the
#	gp_compat library reads (PostgreSQL refuses undotted names it does not
#	know on the postmaster command line):
#	  -c gp_role=R, --gp_role=R, -c gp_session_role=R  ->  -c gp_compat.gp_role=R
#	  -c gp_contentid=N, -c gp_dbid=N  ->  -c gp_compat.gp_contentid=N, ...
#	  -E (GP6 dispatch postmaster)     ->  -c gp_compat.gp_role=dispatch
#	  -m (maintenance), -U (upgrade)   ->  -c gp_compat.gp_maintenance_mode=on, ...
#	  -c superuser_reserved_connections=N, --superuser_reserved_connections=N
#	      ->  -c gp_compat.superuser_reserved_connections=N (gpstart -R gives
#	      N = max_connections, which PostgreSQL's own setting refuses)
#	Everything else is left as it is (pg_ctl hands the string to sh).
gp_compat_backend_opts() {
	printf ' %s \n' "$1" | sed \
		-e 's/-c\([[:space:]]*\)gp_session_role=/-c\1gp_compat.gp_role=/g' \
		-e 's/-c\([[:space:]]*\)gp_role=/-c\1gp_compat.gp_role=/g' \
		-e 's/-c\([[:space:]]*\)gp_contentid=/-c\1gp_compat.gp_contentid=/g' \
		-e 's/-c\([[:space:]]*\)gp_dbid=/-c\1gp_compat.gp_dbid=/g' \
		-e 's/-c\([[:space:]]*\)superuser_reserved_connections=/-c\1gp_compat.superuser_reserved_connections=/g' \
		-e 's/--gp_session_role=/--gp_compat.gp_role=/g' \
		-e 's/--gp_role=/--gp_compat.gp_role=/g' \
		-e 's/--gp_contentid=/--gp_compat.gp_contentid=/g' \
		-e 's/--gp_dbid=/--gp_compat.gp_dbid=/g' \
		-e 's/--superuser_reserved_connections=/--gp_compat.superuser_reserved_connections=/g' \
		-e 's/\([[:space:]]\)-E\([[:space:]]\)/\1-c gp_compat.gp_role=dispatch\2/g' \
		-e 's/\([[:space:]]\)-m\([[:space:]]\)/\1-c gp_compat.gp_maintenance_mode=on\2/g' \
		-e 's/\([[:space:]]\)-U\([[:space:]]\)/\1-c gp_compat.gp_upgrade_mode=on\2/g' \
		-e 's/^ //' -e 's/ $//'
}

# gp_compat_conf_quote VALUE
#	Print VALUE as a quoted postgresql.conf string, as ALTER SYSTEM writes
#	it: in single quotes, every quote and backslash doubled. A value with a
#	line break cannot be written (the file has one setting per line):
#	return 1.
gp_compat_conf_quote() {
	case $1 in *'
'*) return 1 ;; esac
	printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

# gp_compat_fix_conninfo FILE
#	Rewrite every primary_conninfo line of FILE (a postgresql.auto.conf) the
#	way Greenplum's pg_basebackup and pg_rewind write it: without
#	application_name and options (pg_rewind's source connection carries
#	both), then application_name=gp_walreceiver, which is how a primary
#	recognises its mirror in pg_stat_replication.
gp_compat_fix_conninfo() {
	[ -f "$1" ] || return 0
	awk '
	# quote a conninfo value when it needs it
	function cquote(v,    i, c, r) {
		if (v != "" && v !~ /[ \t\047\\]/)
			return v
		r = ""
		for (i = 1; i <= length(v); i++) {
			c = substr(v, i, 1)
			if (c == "\047" || c == "\\")
				r = r "\\"
			r = r c
		}
		return "\047" r "\047"
	}
	/^[ \t]*primary_conninfo[ \t]*=/ {
		first = index($0, "\047")
		last = first
		for (i = first + 1; i <= length($0); i++)
			if (substr($0, i, 1) == "\047")
				last = i
		s = substr($0, first + 1, last - first - 1)
		gsub(/\047\047/, "\047", s)
		out = ""
		n = length(s)
		p = 1
		while (p <= n) {
			while (p <= n && substr(s, p, 1) ~ /[ \t]/) p++
			if (p > n) break
			key = ""
			while (p <= n && substr(s, p, 1) !~ /[ \t=]/) { key = key substr(s, p, 1); p++ }
			while (p <= n && substr(s, p, 1) ~ /[ \t]/) p++
			if (substr(s, p, 1) == "=") p++
			while (p <= n && substr(s, p, 1) ~ /[ \t]/) p++
			val = ""
			if (substr(s, p, 1) == "\047") {
				p++
				while (p <= n && substr(s, p, 1) != "\047") {
					if (substr(s, p, 1) == "\\") p++
					val = val substr(s, p, 1)
					p++
				}
				p++
			} else {
				while (p <= n && substr(s, p, 1) !~ /[ \t]/) {
					if (substr(s, p, 1) == "\\") p++
					val = val substr(s, p, 1)
					p++
				}
			}
			if (key == "application_name" || key == "options" || key == "")
				continue
			out = out (out == "" ? "" : " ") key "=" cquote(val)
		}
		out = out (out == "" ? "" : " ") "application_name=gp_walreceiver"
		gsub(/\047/, "\047\047", out)
		print "primary_conninfo = \047" out "\047"
		next
	}
	{ print }
	' "$1" >"$1.gp_compat.tmp" && mv -f "$1.gp_compat.tmp" "$1"
}
