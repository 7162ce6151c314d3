// Command gprecoverseg is gpmgmt's drop-in replacement for Greenplum's gprecoverseg.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/recoverseg"
)

func main() {
	env := app.RealEnv("gprecoverseg")
	os.Exit(app.Main(recoverseg.NewCommand(env, nil), env))
}
