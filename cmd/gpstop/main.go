// Command gpstop is gpmgmt's drop-in replacement for Greenplum's gpstop.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstop"
)

func main() {
	env := app.RealEnv("gpstop")
	os.Exit(app.Main(gpstop.NewCommand(env, nil), env))
}
