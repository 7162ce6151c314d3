//go:build integration && reliability

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// footprintScope says which processes and connections of this machine
// belong to one cluster and the tools run on it. Every host of a test
// cluster is a loopback address of this machine, shared with other
// tests' clusters, so its processes are told apart by what they run on:
// the postmasters' descendants; the tool's and its remote scripts'
// processes, whose arguments name the cluster's directory (the status
// script's data directories) or, for psql, one of its ports, with their
// descendants and the sshd session and shells above them; the test's own
// children (the tool runs).
type footprintScope struct {
	dir         string
	ports       map[string]bool
	addrs       []net.IP // the segment hosts' and the standby's, owned by the test's slot
	postmasters []int
}

// footprint is what a cluster and the tools run on it hold at one moment.
type footprint struct {
	procs  map[string]int      // processes other than postgres, by command name; zombies (any name) under "zombie"
	pg     int                 // postgres processes other than autovacuum workers
	fds    map[int]int         // sockets and pipes of each postgres process, by pid
	tcp    int                 // SSH connections the cluster's tools hold (sshConnections)
	what   map[string][]string // a few command lines per key of procs, and the TCP connections, for messages
	titles map[int]string
}

// newFootprintScope reads the cluster's ports, postmasters and addresses
// from its catalog and data directories.
func (d rebalanceDemo) newFootprintScope(t testing.TB) footprintScope {
	t.Helper()
	sc := footprintScope{dir: d.dir, ports: map[string]bool{}}
	hosts := map[string]bool{}
	for _, s := range d.catalog(t) {
		sc.ports[strconv.Itoa(s.Port)] = true
		sc.postmasters = append(sc.postmasters, postmasterPID(t, s.DataDir))
		if s.ContentID >= 0 || !s.IsPrimary() {
			hosts[s.Hostname] = true
		}
	}
	for h := range hosts {
		ips, err := net.LookupIP(h)
		if err != nil {
			t.Fatal(err)
		}
		sc.addrs = append(sc.addrs, ips...)
	}
	return sc
}

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid, uid int
	comm, state    string
	args           []string
}

func readProcs() (map[int]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	ps := map[int]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		fi, err2 := os.Stat(dir)
		if err != nil || err2 != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		open, end := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || end < open {
			continue
		}
		rest := strings.Fields(string(stat[end+1:]))
		if len(rest) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(rest[1])
		p := proc{pid: pid, ppid: ppid, uid: int(fi.Sys().(*syscall.Stat_t).Uid), comm: string(stat[open+1 : end]), state: rest[0]}
		if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
			p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		}
		ps[pid] = p
	}
	return ps, nil
}

// mentions reports whether p's arguments name the cluster: its
// directory, or, for psql, one of its ports after -p.
func (sc footprintScope) mentions(p proc) bool {
	for i, a := range p.args {
		if strings.Contains(a, sc.dir) || p.comm == "psql" && a == "-p" && i+1 < len(p.args) && sc.ports[p.args[i+1]] {
			return true
		}
	}
	return false
}

// take counts the cluster's footprint now.
func (sc footprintScope) take() (footprint, error) {
	ps, err := readProcs()
	if err != nil {
		return footprint{}, err
	}
	children := map[int][]int{}
	for _, p := range ps {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	mine, postgres := map[int]bool{}, map[int]bool{}
	var mark func(pid int, into map[int]bool)
	mark = func(pid int, into map[int]bool) {
		if into[pid] {
			return
		}
		into[pid] = true
		for _, c := range children[pid] {
			mark(c, into)
		}
	}
	for _, pm := range sc.postmasters {
		if _, ok := ps[pm]; ok {
			mark(pm, postgres)
		}
	}
	self := os.Getpid()
	for _, c := range children[self] {
		mark(c, mine)
	}
	uid := os.Getuid()
	for _, p := range ps {
		if p.uid != uid || postgres[p.pid] || !sc.mentions(p) {
			continue
		}
		mark(p.pid, mine)
		// Up to the sshd session that runs it: the shells and sshd above.
		for q, ok := ps[p.ppid]; ok && q.uid == uid && q.pid != self && slices.Contains([]string{"sshd", "bash", "sh", "dash"}, q.comm); q, ok = ps[q.ppid] {
			mine[q.pid] = true
		}
	}
	f := footprint{procs: map[string]int{}, fds: map[int]int{}, what: map[string][]string{}, titles: map[int]string{}}
	note := func(key, s string) {
		if len(f.what[key]) < 5 {
			f.what[key] = append(f.what[key], s)
		}
	}
	for pid := range postgres {
		p := ps[pid]
		title := strings.Join(p.args, " ")
		if p.state == "Z" {
			f.procs["zombie"]++
			note("zombie", fmt.Sprintf("%d %s (parent %d)", pid, p.comm, p.ppid))
			continue
		}
		if !strings.Contains(title, "autovacuum worker") {
			f.pg++
		}
		if n, err := nonFileFDs(pid); err == nil {
			f.fds[pid], f.titles[pid] = n, title
		}
	}
	for pid := range mine {
		p := ps[pid]
		key := p.comm
		if p.state == "Z" {
			key = "zombie"
		}
		f.procs[key]++
		note(key, fmt.Sprintf("%d (parent %d) %s", pid, p.ppid, strings.Join(p.args, " ")))
	}
	f.tcp, f.what["tcp"], f.what["tcp ignored"], err = sc.sshConnections(ps, mine)
	return f, err
}

// nonFileFDs counts the sockets and pipes pid holds: a leaked connection
// or pipe is one of them. Files are not counted, because a postgres
// process opens a relation's files when it first touches them and keeps
// them (its file cache), more of them as the writer's table grows; nor
// are epoll descriptors, which a process makes for each wait.
func nonFileFDs(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && (strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, "pipe:")) {
			n++
		}
	}
	return n, nil
}

// sshConnections counts the SSH connections the cluster's tools hold:
// the client ends, to port 22 of the cluster's addresses, TIME_WAIT left
// out (a connection a tool did not close stays ESTABLISHED), whose socket
// is held by a process of the cluster (mine) or by no process this user
// can see; and sshd's ends in CLOSE_WAIT (the client closed, sshd did not). Another user of these addresses (a DBA's
// session, another test's tool) is left out, and named in ignored.
func (sc footprintScope) sshConnections(ps map[int]proc, mine map[int]bool) (n int, what, ignored []string, err error) {
	holders := socketHolders(ps)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, nil, nil, err
		}
		s := bufio.NewScanner(fh)
		s.Scan() // the header
		for s.Scan() {
			// sl local remote st queues tr tm->when retrnsmt uid timeout inode
			f := strings.Fields(s.Text())
			if len(f) < 10 || f[3] == "06" { // TIME_WAIT
				continue
			}
			if ip, port, ok := parseProcAddr(f[1]); ok && port == 22 && slices.ContainsFunc(sc.addrs, ip.Equal) && f[3] == "08" {
				n++ // CLOSE_WAIT: the client is gone, sshd did not close
				what = append(what, fmt.Sprintf("%s -> %s state CLOSE_WAIT (sshd's end)", f[1], f[2]))
				continue
			}
			ip, port, ok := parseProcAddr(f[2])
			if !ok || port != 22 || !slices.ContainsFunc(sc.addrs, ip.Equal) {
				continue
			}
			conn := fmt.Sprintf("%s -> %s state %s", f[1], f[2], f[3])
			switch pid, held := holders[f[9]]; {
			case held && !mine[pid]:
				ignored = append(ignored, fmt.Sprintf("%s held by %d %s", conn, pid, strings.Join(ps[pid].args, " ")))
			case held:
				n++
				what = append(what, fmt.Sprintf("%s held by %d %s", conn, pid, strings.Join(ps[pid].args, " ")))
			default:
				n++
				what = append(what, conn+" held by no process in sight")
			}
		}
		err = s.Err()
		fh.Close()
		if err != nil {
			return 0, nil, nil, err
		}
	}
	return n, what, ignored, nil
}

// socketHolders maps the inode of each socket a process of this user
// holds to that process.
func socketHolders(ps map[int]proc) map[string]int {
	uid := os.Getuid()
	holders := map[string]int{}
	for pid, p := range ps {
		if p.uid != uid {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not readable (sshd's sessions)
		}
		for _, e := range ents {
			if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:[") {
				holders[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = pid
			}
		}
	}
	return holders
}

// parseProcAddr reads an address of /proc/net/tcp{,6}: the IP as 32-bit
// words in host (little-endian) order, in hex, a colon, the port in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	addr, portHex, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(portHex, 16, 16)
	if !ok || err != nil || (len(addr) != 8 && len(addr) != 32) {
		return nil, 0, false
	}
	ip := make(net.IP, len(addr)/2)
	for w := 0; w < len(ip); w += 4 {
		v, err := strconv.ParseUint(addr[2*w:2*w+8], 16, 32)
		if err != nil {
			return nil, 0, false
		}
		ip[w], ip[w+1], ip[w+2], ip[w+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return ip, int(port), true
}

// grownSince lists what f holds beyond start: more processes of a name,
// more postgres processes, more SSH connections, a postgres process
// holding more sockets or pipes.
func (f footprint) grownSince(start footprint) []string {
	var grown []string
	keys := make([]string, 0, len(f.procs))
	for k := range f.procs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if f.procs[k] > start.procs[k] {
			grown = append(grown, fmt.Sprintf("%d %s processes, %d at the start: %s", f.procs[k], k, start.procs[k], strings.Join(f.what[k], "; ")))
		}
	}
	if f.pg > start.pg {
		grown = append(grown, fmt.Sprintf("%d postgres processes, %d at the start", f.pg, start.pg))
	}
	if f.tcp > start.tcp {
		grown = append(grown, fmt.Sprintf("%d SSH connections, %d at the start: %s", f.tcp, start.tcp, strings.Join(f.what["tcp"], "; ")))
	}
	for pid, n := range f.fds {
		if was, ok := start.fds[pid]; ok && n > was {
			grown = append(grown, fmt.Sprintf("postgres %d (%s) holds %d sockets and pipes, %d at the start", pid, f.titles[pid], n, was))
		}
	}
	slices.Sort(grown)
	return grown
}

// fdTotal is the sockets and pipes held by the postgres processes of f that
// also ran at start, and by the same processes at start.
func (f footprint) fdTotal(start footprint) (now, then int) {
	for pid, n := range f.fds {
		if was, ok := start.fds[pid]; ok {
			now, then = now+n, then+was
		}
	}
	return now, then
}
