// Command gpstate is gpmgmt's drop-in replacement for Greenplum's gpstate.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstate"
)

func main() {
	env := app.RealEnv("gpstate")
	os.Exit(app.Main(gpstate.NewCommand(env, nil), env))
}
