package remote

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostKeyError is returned when known_hosts has no key for a host
// and StrictHostKeyChecking asks for one. Fix is the command that adds it.
type UnknownHostKeyError struct {
	Host        string   // the host as the caller named it
	Addr        string   // the address dialled, host:port
	KeyName     string   // the name looked up in known_hosts
	KeyType     string   // the type of the key the server offered
	Fingerprint string   // SHA256 fingerprint of that key
	Files       []string // the known_hosts files consulted
	Fix         string   // ssh-keyscan command line that records the key
}

// Error says what is missing and the exact command that fixes it.
func (e *UnknownHostKeyError) Error() string {
	files := "no known_hosts file"
	if len(e.Files) > 0 {
		files = strings.Join(e.Files, ", ")
	}
	name := ""
	if e.KeyName != e.Host {
		name = " under " + e.KeyName
	}
	return fmt.Sprintf("host key for %s (%s) is not in known_hosts%s (%s; server offered %s %s): add it with: %s",
		e.Host, e.Addr, name, files, e.KeyType, e.Fingerprint, e.Fix)
}

// ChangedHostKeyError is returned when known_hosts holds a different key of
// the same type for a host (a reinstalled host or a man in the middle), or
// when a host whose unknown key was accepted earlier in this run
// (StrictHostKeyChecking accept-new or no) now offers another one.
type ChangedHostKeyError struct {
	Host        string   // the host as the caller named it
	Addr        string   // the address dialled, host:port
	KeyName     string   // the name looked up in known_hosts
	KeyType     string   // the type of the key the server offered
	Fingerprint string   // SHA256 fingerprint of that key
	Known       []string // file:line of each known key of that type
	Fix         string   // ssh-keygen -R ... command lines that remove the old key
	// Accepted is the fingerprint of the key accepted earlier in this run,
	// when the host is not in known_hosts; Fix is then the ssh-keyscan
	// line that records the host's key once it is verified.
	Accepted string
}

// Error warns loudly and says how to remove the old key.
func (e *ChangedHostKeyError) Error() string {
	if e.Accepted != "" {
		return fmt.Sprintf("HOST KEY CHANGED for %s (%s) during this run: the server offered %s %s, which differs from the key %s accepted earlier "+
			"under StrictHostKeyChecking accept-new; this is a possible man-in-the-middle attack: "+
			"verify the host's key, record it with: %s; then run again",
			e.Host, e.Addr, e.KeyType, e.Fingerprint, e.Accepted, e.Fix)
	}
	return fmt.Sprintf("HOST KEY CHANGED for %s (%s): the server offered %s %s, which differs from the key in %s; "+
		"this is a possible man-in-the-middle attack, or the host was reinstalled: "+
		"if the change is expected, remove the old line with: %s; then add the new key with ssh-keyscan",
		e.Host, e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "), e.Fix)
}

// hostKeyDB is the known_hosts content of one list of files, and the
// unknown keys accepted during this run under StrictHostKeyChecking
// accept-new or no, by lookup name (never written to the files).
type hostKeyDB struct {
	check ssh.HostKeyCallback
	files []string // the files that exist, in order
	all   []string // every file asked for (the first is where new keys go)

	mu       sync.Mutex
	accepted map[string]ssh.PublicKey
}

// loadHostKeyDB reads the files that exist.
func loadHostKeyDB(files []string) (*hostKeyDB, error) {
	db := &hostKeyDB{all: files, accepted: map[string]ssh.PublicKey{}}
	for _, f := range files {
		_, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
		db.files = append(db.files, f)
	}
	cb, err := knownhosts.New(db.files...)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	db.check = cb
	return db, nil
}

// probeKey never matches a real host key; checking it lists the known keys.
func probeKey() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	return k // never nil: an ed25519 public key always converts
}

// known returns the plain keys recorded under the lookup name, and the key
// accepted for it earlier in this run, if any.
func (db *hostKeyDB) known(lookup string) []knownhosts.KnownKey {
	var keys []knownhosts.KnownKey
	err := db.check(lookup, &net.TCPAddr{IP: net.IPv4zero}, probeKey())
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		keys = ke.Want
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if k := db.accepted[lookup]; k != nil {
		keys = append(keys, knownhosts.KnownKey{Key: k})
	}
	return keys
}

// accept remembers key as the one accepted for lookup in this run, unless
// another key was accepted first; it returns the key that stands and
// whether it is new.
func (db *hostKeyDB) accept(lookup string, key ssh.PublicKey) (ssh.PublicKey, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if k := db.accepted[lookup]; k != nil {
		return k, false
	}
	db.accepted[lookup] = key
	return key, true
}

// hostKeyAlgorithms puts the algorithms of the keys known for the host first,
// as OpenSSH does, so that a host known by its ed25519 key is not asked for
// its ecdsa key and then reported as unknown; then ed25519, as OpenSSH
// prefers it, so that the ssh-keyscan line of an unknown host asks for it.
func hostKeyAlgorithms(known []knownhosts.KnownKey) []string {
	var algos []string
	for _, k := range known {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	for _, a := range append([]string{ssh.KeyAlgoED25519}, ssh.SupportedAlgorithms().HostKeys...) {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// verifyHostKey is verifyHostKey with the executor's home, logging a
// warning with the ssh-keyscan line the first time an unknown key is
// accepted under StrictHostKeyChecking accept-new or no.
func (e *SSHExecutor) verifyHostKey(s hostSettings, db *hostKeyDB, remote net.Addr, key ssh.PublicKey) error {
	accepted, err := verifyHostKey(s, db, e.opts.Home, remote, key)
	if accepted {
		e.opts.Logger.Warn(fmt.Sprintf("The host key of %s (%s, %s %s) is not in known_hosts; it is accepted for this run only, "+
			"as StrictHostKeyChecking accept-new or no says, and another key for %s will be refused until the run ends. "+
			"To record it once you have verified it: %s",
			s.alias, remote, key.Type(), ssh.FingerprintSHA256(key), s.keyName(), keyscanLine(s, key.Type(), db.all, e.opts.Home)))
	}
	return err
}

// verifyHostKey checks key, offered by the server of s at remote, against db
// under s's policy. Changed keys are always refused, even with
// StrictHostKeyChecking=no (OpenSSH would connect with restrictions that
// do not protect commands run with key authentication). Unknown keys are
// accepted under accept-new, no and off, never written to known_hosts but
// remembered in db for the rest of the run: another key offered for the
// same name later is refused as changed. accepted reports a key accepted
// for the first time.
func verifyHostKey(s hostSettings, db *hostKeyDB, home string, remote net.Addr, key ssh.PublicKey) (accepted bool, err error) {
	err = db.check(s.keyLookup(), remote, key)
	if err == nil {
		return false, nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return false, fmt.Errorf("check host key of %s: %w", s.alias, err)
	}
	var same []string
	for _, k := range ke.Want {
		if k.Key.Type() == key.Type() {
			same = append(same, fmt.Sprintf("%s:%d", displayPath(k.Filename, home), k.Line))
		}
	}
	if len(same) > 0 {
		var fixes []string
		for _, k := range ke.Want {
			if k.Key.Type() != key.Type() {
				continue
			}
			fix := "ssh-keygen -R " + Quote(s.keyName()) + " -f " + displayPath(k.Filename, home)
			if !slices.Contains(fixes, fix) {
				fixes = append(fixes, fix)
			}
		}
		return false, &ChangedHostKeyError{
			Host: s.alias, Addr: remote.String(), KeyName: s.keyName(),
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			Known: same, Fix: strings.Join(fixes, " && "),
		}
	}
	if s.strict == strictAcceptNew {
		stands, first := db.accept(s.keyLookup(), key)
		if bytes.Equal(stands.Marshal(), key.Marshal()) {
			return first, nil
		}
		return false, &ChangedHostKeyError{
			Host: s.alias, Addr: remote.String(), KeyName: s.keyName(),
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			Accepted: stands.Type() + " " + ssh.FingerprintSHA256(stands),
			Fix:      keyscanLine(s, key.Type(), db.all, home),
		}
	}
	files := make([]string, len(db.all))
	for i, f := range db.all {
		files[i] = displayPath(f, home)
	}
	return false, &UnknownHostKeyError{
		Host: s.alias, Addr: remote.String(), KeyName: s.keyName(),
		KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
		Files: files, Fix: keyscanLine(s, key.Type(), db.all, home),
	}
}

// keyscanLine is the shell command that appends the host's key of type
// keyType to the first known_hosts file, under the name ssh looks it up by.
func keyscanLine(s hostSettings, keyType string, files []string, home string) string {
	line := "ssh-keyscan -p " + s.port
	if t := keyscanType(keyType); t != "" {
		line += " -t " + t
	}
	line += " " + Quote(s.hostName)
	if s.hostKeyAlias != "" {
		line += " | sed " + Quote("s/^[^ ]*/"+s.hostKeyAlias+"/")
	}
	target := home + "/.ssh/known_hosts"
	if len(files) > 0 {
		target = files[0]
	}
	return line + " >> " + displayPath(target, home)
}

// keyscanType maps a key type to ssh-keyscan's -t name.
func keyscanType(t string) string {
	switch {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-sha2-"):
		return "ecdsa"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	case t == ssh.InsecureKeyAlgoDSA:
		return "dsa"
	}
	return ""
}

// displayPath writes p for a shell command and a message: ~/rest when p is
// under home and needs no quoting, the quoted path otherwise.
func displayPath(p, home string) string {
	if rest, ok := strings.CutPrefix(p, home+"/"); ok && home != "" && Quote(rest) == rest {
		return "~/" + rest
	}
	return Quote(p)
}
