package cluster

import "testing"

func TestParseAndFormatAddress(t *testing.T) {
	for _, tt := range []struct{ in, parsed, formatted, err string }{
		{"sdw1", "sdw1", "sdw1", ""},
		{"sdw1-1.example.com", "sdw1-1.example.com", "sdw1-1.example.com", ""},
		{"10.0.0.2", "10.0.0.2", "10.0.0.2", ""},
		{"[fd00::a]", "fd00::a", "[fd00::a]", ""},
		{"fe80::1%eth0", "fe80::1%eth0", "[fe80::1%eth0]", ""},
		{"[]", "", "", `"[]" names no host`},
		{"sdw1;rm", "", "", `"sdw1;rm" is not a host name or IP address (character ';')`},
		{"sdw 1", "", "", `"sdw 1" is not a host name or IP address (character ' ')`},
	} {
		got, err := ParseAddress(tt.in)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("ParseAddress(%q): %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.parsed):
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.parsed)
		case tt.err == "" && FormatAddress(got) != tt.formatted:
			t.Errorf("FormatAddress(%q) = %q, want %q", got, FormatAddress(got), tt.formatted)
		}
	}
}
