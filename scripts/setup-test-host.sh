#!/usr/bin/env bash
# Prepares this machine for gpmgmt's integration tests and demo cluster.
# Run as root; idempotent: every step checks before it acts.
#
#   - Debian packages: PostgreSQL 15 server and headers, OpenSSH server, rsync,
#     make and gcc (the compat extension), jq (docs/ci.md's script)
#   - OS user gpadmin, unlocked for sshd, with an ed25519 key it trusts
#   - test host names sdw1..sdw$GPMGMT_TEST_HOSTS on 127.0.60.N in /etc/hosts
#   - sshd instances of our own, listening on loopback addresses only
#     (127.0.0.1 and the test hosts)
#   - gpadmin's known_hosts holding every test host's key (merged in: its
#     other entries stay)
#   - a small filesystem that fills up: a 64 MB tmpfs on /mnt/gpmgmt-full,
#     owned by gpadmin, for the fault campaign's "target filesystem full"
#     tests (the test hosts share this machine's mounts, so the remote side
#     sees it too). Left alone when already mounted; when mount is
#     impossible (a container without CAP_SYS_ADMIN) a warning says so and
#     those tests fail naming the reason
set -euo pipefail

hosts=${GPMGMT_TEST_HOSTS:-30}
user=gpadmin

say() { printf 'setup-test-host: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	say "must run as root (it installs packages and creates the $user user)" >&2
	exit 1
fi

need_pkgs=()
for p in postgresql-15 postgresql-server-dev-15 openssh-server openssh-client rsync procps iproute2 make gcc jq man-db bash-completion; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! id "$user" >/dev/null 2>&1; then
	say "creating user $user"
	useradd -m -s /bin/bash "$user"
fi
# useradd leaves '!' in /etc/shadow; sshd refuses a locked account.
if [ "$(getent shadow "$user" | cut -d: -f2)" != '*' ]; then
	usermod -p '*' "$user"
fi
home=$(getent passwd "$user" | cut -d: -f6)

install -d -m 700 -o "$user" -g "$user" "$home/.ssh"
if [ ! -f "$home/.ssh/id_ed25519" ]; then
	say "creating an ed25519 key for $user"
	runuser -u "$user" -- ssh-keygen -q -t ed25519 -N '' -C "$user@gpmgmt-test" -f "$home/.ssh/id_ed25519"
fi
pub=$(cat "$home/.ssh/id_ed25519.pub")
touch "$home/.ssh/authorized_keys"
grep -qxF "$pub" "$home/.ssh/authorized_keys" || printf '%s\n' "$pub" >>"$home/.ssh/authorized_keys"
chown "$user:$user" "$home/.ssh/authorized_keys"
chmod 600 "$home/.ssh/authorized_keys"

# Test host names: one loopback address each, so every "host" is a distinct
# SSH endpoint with its own name, as on a real cluster.
addr() { printf '127.0.60.%d' "$1"; }
block=$(for i in $(seq 1 "$hosts"); do printf '%s sdw%d\n' "$(addr "$i")" "$i"; done)
if ! grep -q '# gpmgmt test hosts begin' /etc/hosts || [ "$(sed -n '/# gpmgmt test hosts begin/,/# gpmgmt test hosts end/p' /etc/hosts | grep -c sdw)" -ne "$hosts" ]; then
	say "writing $hosts test host names to /etc/hosts"
	tmp=$(mktemp)
	sed '/# gpmgmt test hosts begin/,/# gpmgmt test hosts end/d' /etc/hosts >"$tmp"
	{ echo '# gpmgmt test hosts begin'; echo "$block"; echo '# gpmgmt test hosts end'; } >>"$tmp"
	cat "$tmp" >/etc/hosts # keep the inode: /etc/hosts may be a bind mount
	rm -f "$tmp"
fi

# sshd on loopback only, as our own instances with their own config files
# (the system's sshd, if any, is left alone). OpenSSH listens on at most 16
# addresses per instance, so the addresses are served in groups of 16.
# MaxStartups is raised because the tools open one connection per host at
# once; MaxSessions stays at OpenSSH's default (10), which the tools respect.
ssh-keygen -A >/dev/null
install -d -m 755 /run/sshd
addrs=(127.0.0.1)
for i in $(seq 1 "$hosts"); do addrs+=("$(addr "$i")"); done
group=0
for ((first = 0; first < ${#addrs[@]}; first += 16)); do
	group=$((group + 1))
	conf=/etc/ssh/gpmgmt-sshd-$group.conf
	pidfile=/run/gpmgmt-sshd-$group.pid
	want=$({
		echo '# written by gpmgmt scripts/setup-test-host.sh'
		for a in "${addrs[@]:first:16}"; do echo "ListenAddress $a"; done
		echo "PidFile $pidfile"
		for t in rsa ecdsa ed25519; do echo "HostKey /etc/ssh/ssh_host_${t}_key"; done
		echo 'PubkeyAuthentication yes'
		echo 'PasswordAuthentication no'
		echo 'KbdInteractiveAuthentication no'
		echo 'UsePAM yes'
		echo 'MaxStartups 200:30:400'
		echo 'AcceptEnv LANG LC_*'
		echo 'Subsystem sftp /usr/lib/openssh/sftp-server'
	})
	running=0
	[ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && running=1
	if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
		say "writing $conf"
		printf '%s\n' "$want" >"$conf"
		if [ $running = 1 ]; then
			kill "$(cat "$pidfile")"
			sleep 0.5
			running=0
		fi
	fi
	/usr/sbin/sshd -t -f "$conf"
	if [ $running = 0 ]; then
		last=$((first + 15 < ${#addrs[@]} - 1 ? first + 15 : ${#addrs[@]} - 1))
		say "starting sshd for ${addrs[first]}..${addrs[last]}"
		/usr/sbin/sshd -f "$conf" -E "/var/log/gpmgmt-sshd-$group.log"
	fi
done

# Wait until sshd answers on the last test address, then record every host
# key for gpadmin. Tests that check refusal build their own known_hosts.
for _ in $(seq 1 50); do
	ssh-keyscan -T 2 -t ed25519 "$(addr "$hosts")" >/dev/null 2>&1 && break
	sleep 0.2
done
# The keys are merged in: the test hosts' entries are replaced, whatever else
# gpadmin's known_hosts holds stays.
names=(localhost 127.0.0.1)
for i in $(seq 1 "$hosts"); do names+=("sdw$i"); done
# Files of this run's own: two set-ups may run at once (parallel checkouts).
scan=$(mktemp)
ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "${names[@]}" 2>/dev/null | sort -u >"$scan"
if [ "$(wc -l <"$scan")" -lt "$hosts" ]; then
	rm -f "$scan"
	say "ssh-keyscan got too few keys: is sshd listening on $(addr 1)..$(addr "$hosts")?" >&2
	exit 1
fi
"$(dirname "$0")/merge-known-hosts.sh" "$home/.ssh/known_hosts" "${names[@]}" <"$scan"
rm -f "$scan"
chown "$user:$user" "$home/.ssh/known_hosts"

full=/mnt/gpmgmt-full
if ! mountpoint -q "$full"; then
	mkdir -p "$full"
	if err=$(mount -t tmpfs -o size=64m,mode=0700,uid="$(id -u "$user")",gid="$(id -g "$user")" gpmgmt-full "$full" 2>&1); then
		say "mounted a 64 MB tmpfs on $full for $user"
	else
		say "WARNING: cannot mount a tmpfs on $full ($err); the filesystem-full tests will fail" >&2
	fi
fi

if ! runuser -u "$user" -- ssh -o BatchMode=yes -o ConnectTimeout=5 sdw1 true; then
	say "gpadmin cannot ssh to sdw1; see /var/log/auth.log or run sshd -d" >&2
	exit 1
fi
say "ready: user $user, sshd on 127.0.0.1 and sdw1..sdw$hosts ($(addr 1)..$(addr "$hosts"))"
