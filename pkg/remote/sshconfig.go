package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// strictness is the ssh_config StrictHostKeyChecking policy.
type strictness int

const (
	// strictYes refuses unknown and changed keys ("yes", and "ask", since
	// we never prompt).
	strictYes strictness = iota
	// strictAcceptNew accepts unknown keys without recording them and
	// refuses changed ones ("accept-new", "no", "off"); see hostkeys.go.
	strictAcceptNew
)

// hostSettings is what ssh_config says about one host, resolved as OpenSSH
// does: the first value found wins, user config before system config.
type hostSettings struct {
	alias          string // the name the caller used (Command.Host)
	hostName       string // HostName, or alias
	port           string
	user           string
	identityFiles  []string // expanded; the defaults when none is configured
	identitiesOnly bool
	strict         strictness
	knownHosts     []string // user files first, then global ones; expanded
	hostKeyAlias   string
	connectTimeout time.Duration // 0 if not set
	keep           keepalive     // ServerAliveInterval and ServerAliveCountMax
}

// addr is the TCP address to dial.
func (s hostSettings) addr() string { return joinHostPort(s.hostName, s.port) }

// keyName is the name the host key is recorded under in known_hosts:
// the HostKeyAlias, else HostName, as "[name]:port" for a port other than 22.
func (s hostSettings) keyName() string {
	if s.hostKeyAlias != "" {
		return s.hostKeyAlias
	}
	if s.port == "22" {
		return s.hostName
	}
	return "[" + s.hostName + "]:" + s.port
}

// keyLookup is keyName in the host:port form knownhosts callbacks expect.
func (s hostSettings) keyLookup() string {
	if s.hostKeyAlias != "" {
		return joinHostPort(s.hostKeyAlias, "22")
	}
	return s.addr()
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// loadSSHConfigs parses the ssh_config files that exist, in order.
func loadSSHConfigs(files ...string) ([]*ssh_config.Config, error) {
	var cfgs []*ssh_config.Config
	for _, f := range files {
		if f == "none" {
			continue
		}
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read ssh config: %w", err)
		}
		cfg, err := ssh_config.DecodeBytes(data)
		if err != nil {
			return nil, fmt.Errorf("parse ssh config %s: %w", f, err)
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, nil
}

// sshConfigs is the ordered list of parsed ssh_config files.
type sshConfigs []*ssh_config.Config

func (cs sshConfigs) get(alias, key string) (string, error) {
	for _, c := range cs {
		v, err := c.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh config %s for %s: %w", key, alias, err)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", nil
}

func (cs sshConfigs) getAll(alias, key string) ([]string, error) {
	var all []string
	for _, c := range cs {
		v, err := c.GetAll(alias, key)
		if err != nil {
			return nil, fmt.Errorf("ssh config %s for %s: %w", key, alias, err)
		}
		all = append(all, v...)
	}
	return all, nil
}

// resolve computes the settings of host from the configs and options.
func resolve(cs sshConfigs, o SSHOptions, host string) (hostSettings, error) {
	s := hostSettings{alias: host, port: "22", user: o.User}
	var firstErr error
	get := func(key string) string {
		v, err := cs.get(host, key)
		if firstErr == nil {
			firstErr = err
		}
		return v
	}
	hostName, port, user := get("HostName"), get("Port"), get("User")
	strict, alias, timeout := get("StrictHostKeyChecking"), get("HostKeyAlias"), get("ConnectTimeout")
	userKH, globalKH, idOnly := get("UserKnownHostsFile"), get("GlobalKnownHostsFile"), get("IdentitiesOnly")
	aliveInterval, aliveCount := get("ServerAliveInterval"), get("ServerAliveCountMax")
	if firstErr != nil {
		return s, firstErr
	}
	ids, err := cs.getAll(host, "IdentityFile")
	if err != nil {
		return s, err
	}

	s.hostName = host
	if hostName != "" {
		s.hostName = strings.ReplaceAll(strings.ReplaceAll(hostName, "%h", host), "%%", "%")
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return s, fmt.Errorf("ssh config for %s: bad Port %q", host, port)
		}
		s.port = port
	}
	if user != "" {
		s.user = user
	}
	s.hostKeyAlias = alias
	s.identitiesOnly = strings.EqualFold(idOnly, "yes")
	switch strings.ToLower(strict) {
	case "", "yes", "ask", "true":
		s.strict = strictYes
	case "accept-new", "no", "off", "false":
		s.strict = strictAcceptNew
	default:
		return s, fmt.Errorf("ssh config for %s: bad StrictHostKeyChecking %q", host, strict)
	}
	if timeout != "" {
		n, err := strconv.ParseUint(timeout, 10, 31)
		if err != nil {
			return s, fmt.Errorf("ssh config for %s: bad ConnectTimeout %q", host, timeout)
		}
		s.connectTimeout = time.Duration(n) * time.Second
	}
	if s.keep, err = resolveKeepalive(o, host, aliveInterval, aliveCount); err != nil {
		return s, err
	}

	if len(ids) == 0 {
		ids = []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}
	}
	for _, id := range ids {
		p, err := expandPath(id, s, o)
		if err != nil {
			return s, err
		}
		s.identityFiles = append(s.identityFiles, p)
	}

	if len(o.KnownHostsFiles) > 0 {
		s.knownHosts = o.KnownHostsFiles
		return s, nil
	}
	if userKH == "" {
		userKH = "~/.ssh/known_hosts ~/.ssh/known_hosts2"
	}
	if globalKH == "" {
		globalKH = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"
	}
	for _, list := range []string{userKH, globalKH} {
		for _, f := range strings.Fields(list) {
			if f == "none" {
				continue
			}
			p, err := expandPath(f, s, o)
			if err != nil {
				return s, err
			}
			s.knownHosts = append(s.knownHosts, p)
		}
	}
	return s, nil
}

// resolveKeepalive is the keepalive of a host: the options' values win, as
// ssh -o does; then ssh_config's ServerAliveInterval (0: none) and
// ServerAliveCountMax; then Greenplum's interval and OpenSSH's count.
func resolveKeepalive(o SSHOptions, host, interval, count string) (keepalive, error) {
	k := keepalive{interval: DefaultKeepaliveInterval, count: DefaultKeepaliveCountMax}
	switch {
	case o.KeepaliveInterval > 0:
		k.interval = o.KeepaliveInterval
	case o.KeepaliveInterval < 0:
		k.interval = 0
	case interval != "":
		n, err := strconv.ParseUint(interval, 10, 31)
		if err != nil {
			return k, fmt.Errorf("ssh config for %s: bad ServerAliveInterval %q", host, interval)
		}
		k.interval = time.Duration(n) * time.Second
	}
	switch {
	case o.KeepaliveCountMax > 0:
		k.count = o.KeepaliveCountMax
	case count != "":
		n, err := strconv.ParseUint(count, 10, 31)
		if err != nil {
			return k, fmt.Errorf("ssh config for %s: bad ServerAliveCountMax %q", host, count)
		}
		k.count = int(n)
	}
	return k, nil
}

// expandPath expands a leading ~ and the ssh_config tokens %d (home), %h
// (host name), %n (alias), %p (port), %r (remote user), %u (local user),
// %k (host key alias or alias) and %%.
func expandPath(p string, s hostSettings, o SSHOptions) (string, error) {
	p = strings.Trim(p, `"`)
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = o.Home + p[1:]
	}
	if !strings.Contains(p, "%") {
		return p, nil
	}
	k := s.hostKeyAlias
	if k == "" {
		k = s.alias
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+1 == len(p) {
			return "", fmt.Errorf("ssh config path %q ends in %%", p)
		}
		i++
		switch p[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(o.Home)
		case 'h':
			b.WriteString(s.hostName)
		case 'n':
			b.WriteString(s.alias)
		case 'p':
			b.WriteString(s.port)
		case 'r':
			b.WriteString(s.user)
		case 'u':
			b.WriteString(o.User)
		case 'k':
			b.WriteString(k)
		default:
			return "", fmt.Errorf("ssh config path %q: unsupported token %%%c", p, p[i])
		}
	}
	return b.String(), nil
}
