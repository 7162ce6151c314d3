package app

import "runtime/debug"

// stampedVersion is the version the Makefile stamps into every binary with
// -ldflags "-X github.com/gpmgmt/gpmgmt/pkg/app.stampedVersion=<git describe>".
// Only the linker sets it; it is empty in a binary built without the
// Makefile.
var stampedVersion string

// buildVersion returns the version --version prints: the one the Makefile
// stamped, else the main module's version recorded by the Go toolchain
// (go install module@version), else "(devel)".
func buildVersion() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
