// Command gpstart is gpmgmt's drop-in replacement for Greenplum's gpstart.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstart"
)

func main() {
	env := app.RealEnv("gpstart")
	os.Exit(app.Main(gpstart.NewCommand(env, nil), env))
}
