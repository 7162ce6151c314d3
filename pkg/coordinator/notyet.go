package coordinator

import (
	"context"
	"errors"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// NotYet is the Run of a tool whose own operation is not built yet: it runs
// the prelude as the tool will (so flags, environment, versions and the
// catalog are already checked for real), then fails with exit 2 saying that
// what is not implemented, rather than pretend.
func NotYet(ctx context.Context, env *app.Env, opts Options, what string) (err error) {
	c, err := Open(ctx, env, opts)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	return app.Errorf("%s is not implemented yet in this build of gpmgmt; the catalog was read: %d segment instances", what, len(c.Cluster.Segments()))
}
