package cluster

import (
	"errors"
	"strings"
	"testing"
)

// TestParseAndFormatAddress: what CheckHost accepts, IPv6 brackets off
// when read and on when written; the rest refused with CheckHost's error.
func TestParseAndFormatAddress(t *testing.T) {
	for _, tt := range []struct{ in, parsed, formatted, err string }{
		{"sdw1", "sdw1", "sdw1", ""},
		{"sdw1-1.example.com", "sdw1-1.example.com", "sdw1-1.example.com", ""},
		{"10.0.0.2", "10.0.0.2", "10.0.0.2", ""},
		{"[fd00::a]", "fd00::a", "[fd00::a]", ""},
		{"fe80::1%eth0", "fe80::1%eth0", "[fe80::1%eth0]", ""},
		{"[]", "", "", "address [] is empty"},
		{"sdw1;rm", "", "", "address sdw1;rm contains ';'"},
		{"sdw 1", "", "", "address sdw 1 contains ' '"},
		{"sdw1=x", "", "", "address sdw1=x contains '='"},
		{"-sdw1", "", "", "address -sdw1 starts with '-'"},
	} {
		got, err := ParseAddress(tt.in)
		var bad *BadHostError
		switch {
		case tt.err != "" && (!errors.As(err, &bad) || !strings.HasPrefix(err.Error(), tt.err+": ")):
			t.Errorf("ParseAddress(%q): %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.parsed):
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.parsed)
		case tt.err == "" && FormatAddress(got) != tt.formatted:
			t.Errorf("FormatAddress(%q) = %q, want %q", got, FormatAddress(got), tt.formatted)
		}
	}
}
