package remote

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials are the signers offered to one host, in order: the agent's
// keys, then the identity files. notes says what was skipped and why, for
// the debug log and for an authentication failure.
type credentials struct {
	signers []ssh.Signer
	tried   []string
	notes   []string
	closer  io.Closer // the agent connection, if any
}

// close releases the agent connection; call it once the handshake is over.
func (c *credentials) close() {
	if c.closer != nil {
		_ = c.closer.Close()
	}
}

// summary lists the keys offered and skipped, for an authentication error.
func (c *credentials) summary() string {
	s := "offered: " + strings.Join(c.tried, ", ")
	if len(c.tried) == 0 {
		s = "no usable key"
	}
	if len(c.notes) > 0 {
		s += "; skipped: " + strings.Join(c.notes, "; ")
	}
	return s
}

// loadCredentials gathers keys: from ssh-agent at agentSocket (unless
// IdentitiesOnly), then from the identity files of s. Missing, encrypted or
// unreadable files are skipped with a note; that is not an error.
func loadCredentials(s hostSettings, agentSocket, home string) *credentials {
	c := &credentials{}
	switch {
	case agentSocket == "":
		c.notes = append(c.notes, "ssh-agent (no socket given)")
	case s.identitiesOnly:
		c.notes = append(c.notes, "ssh-agent (IdentitiesOnly yes)")
	default:
		conn, err := net.Dial("unix", agentSocket)
		if err != nil {
			c.notes = append(c.notes, fmt.Sprintf("ssh-agent (%v)", err))
			break
		}
		signers, err := agent.NewClient(conn).Signers()
		if err != nil {
			_ = conn.Close()
			c.notes = append(c.notes, fmt.Sprintf("ssh-agent (%v)", err))
			break
		}
		c.closer = conn
		c.signers = append(c.signers, signers...)
		c.tried = append(c.tried, fmt.Sprintf("ssh-agent (%d keys)", len(signers)))
	}
	for _, f := range s.identityFiles {
		name := displayPath(f, home)
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			c.notes = append(c.notes, name+" (missing)")
			continue
		}
		if err != nil {
			c.notes = append(c.notes, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		signer, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			c.notes = append(c.notes, name+" (encrypted; add it to ssh-agent)")
			continue
		case err != nil:
			c.notes = append(c.notes, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		c.signers = append(c.signers, signer)
		c.tried = append(c.tried, name)
	}
	return c
}

// authMethods is the client auth configuration for c.
func (c *credentials) authMethods() []ssh.AuthMethod {
	if len(c.signers) == 0 {
		return nil
	}
	signers := c.signers
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil })}
}
