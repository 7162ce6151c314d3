// Command gpaddmirrors is gpmgmt's drop-in replacement for Greenplum's gpaddmirrors.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
)

func main() {
	env := app.RealEnv("gpaddmirrors")
	os.Exit(app.Main(addmirrors.NewCommand(env, nil), env))
}
