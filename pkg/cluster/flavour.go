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

// CoordinatorWord is what the flavour's tools call the coordinator in their
// messages: "master" on Greenplum 6, "coordinator" from Greenplum 7 on
// (design.md "Flavours"). An unknown flavour speaks Greenplum 6.
func (f Flavour) CoordinatorWord() string {
	if f == GP7 || f == Cloudberry {
		return "coordinator"
	}
	return "master"
}

// CoordinatorTitle is CoordinatorWord capitalised, as headings and
// sentences start: "Master", "Coordinator".
func (f Flavour) CoordinatorTitle() string {
	if f == GP7 || f == Cloudberry {
		return "Coordinator"
	}
	return "Master"
}

// ProductWord is the product name in the flavour's messages ("local
// Greenplum Version", "local Cloudberry Version"; spec §1.11).
func (f Flavour) ProductWord() string {
	if f == Cloudberry {
		return "Cloudberry"
	}
	return "Greenplum"
}
