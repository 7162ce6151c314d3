package cluster

import "strings"

// ParseAddress reads a host name or IP address as the tools' configuration
// files give it (gpaddmirrors -i, gprecoverseg -i): what CheckHost accepts
// (the characters of host names and IP addresses, so that an address is
// safe in host lists, connection strings and command lines), without the
// [ ] that wrap an IPv6 literal, so that FormatAddress writes it back
// unchanged.
func ParseAddress(s string) (string, error) {
	if err := CheckHost("address", s); err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), nil
}

// FormatAddress wraps an IPv6 literal (an address with a ':') in [ ], as
// Greenplum's canonicalize_address does for -o files.
func FormatAddress(a string) string {
	if strings.Contains(a, ":") && !strings.Contains(a, "[") {
		return "[" + a + "]"
	}
	return a
}
