package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"

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
// the same type for a host: a reinstalled host or a man in the middle.
type ChangedHostKeyError struct {
	Host        string   // the host as the caller named it
	Addr        string   // the address dialled, host:port
	KeyName     string   // the name looked up in known_hosts
	KeyType     string   // the type of the key the server offered
	Fingerprint string   // SHA256 fingerprint of that key
	Known       []string // file:line of each known key of that type
	Fix         string   // ssh-keygen -R ... command lines that remove the old key
}

// Error warns loudly and says how to remove the old key.
func (e *ChangedHostKeyError) Error() string {
	return fmt.Sprintf("HOST KEY CHANGED for %s (%s): the server offered %s %s, which differs from the key in %s; "+
		"this is a possible man-in-the-middle attack, or the host was reinstalled: "+
		"if the change is expected, remove the old line with: %s; then add the new key with ssh-keyscan",
		e.Host, e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "), e.Fix)
}

// hostKeyDB is the known_hosts content of one list of files.
type hostKeyDB struct {
	check ssh.HostKeyCallback
	files []string // the files that exist, in order
	all   []string // every file asked for (the first is where new keys go)
}

// loadHostKeyDB reads the files that exist.
func loadHostKeyDB(files []string) (*hostKeyDB, error) {
	db := &hostKeyDB{all: files}
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

// known returns the plain keys recorded under the lookup name.
func (db *hostKeyDB) known(lookup string) []knownhosts.KnownKey {
	err := db.check(lookup, &net.TCPAddr{IP: net.IPv4zero}, probeKey())
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		return ke.Want
	}
	return nil
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

// verifyHostKey checks key, offered by the server of s at remote, against db
// under s's policy. Changed keys are always refused, even with
// StrictHostKeyChecking=no (OpenSSH would connect with restrictions that
// do not protect commands run with key authentication); unknown keys are
// accepted, and never recorded, under accept-new, no and off.
func verifyHostKey(s hostSettings, db *hostKeyDB, home string, remote net.Addr, key ssh.PublicKey) error {
	err := db.check(s.keyLookup(), remote, key)
	if err == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return fmt.Errorf("check host key of %s: %w", s.alias, err)
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
		return &ChangedHostKeyError{
			Host: s.alias, Addr: remote.String(), KeyName: s.keyName(),
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			Known: same, Fix: strings.Join(fixes, " && "),
		}
	}
	if s.strict == strictAcceptNew {
		return nil
	}
	files := make([]string, len(db.all))
	for i, f := range db.all {
		files[i] = displayPath(f, home)
	}
	return &UnknownHostKeyError{
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
