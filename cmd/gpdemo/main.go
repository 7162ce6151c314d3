// Command gpdemo creates and destroys demo Greenplum clusters on this
// machine, for trying the tools and for their integration tests.
package main

import (
	"os"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpdemo"
)

func main() {
	env := app.RealEnv("gpdemo")
	os.Exit(app.Main(gpdemo.NewCommand(gpdemo.NewEnv(env), nil, nil), env))
}
