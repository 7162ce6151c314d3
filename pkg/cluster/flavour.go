package cluster

// Flavour is the server family, detected before the first connection
// (design.md "Flavours"): it selects utility-mode options, command lines and
// wording.
type Flavour int

// The flavours the tools know.
const (
	FlavourUnknown Flavour = iota
	GP6                    // Greenplum 6: master wording, gp_session_role, recovery.conf
	GP7                    // Greenplum 7: coordinator wording, gp_role, standby.signal
	Cloudberry             // Apache Cloudberry: GP7 dialect with Cloudberry product names
)
