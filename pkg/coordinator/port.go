package coordinator

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// ReadConf reads the coordinator's postgresql.conf in dataDir and its port,
// logging at DEBUG as Greenplum's tools do ("Obtaining master's port from
// master data directory", "Read from postgresql.conf port=7000"). The
// errors say which file and setting are wrong.
func ReadConf(log *slog.Logger, dataDir string, f cluster.Flavour) (conf cluster.Conf, port int, err error) {
	word := f.CoordinatorWord()
	log.Debug(fmt.Sprintf("Obtaining %s's port from %s data directory", word, word))
	if conf, err = cluster.ReadPostgresConf(dataDir); err != nil {
		return nil, 0, app.Errorf("%v (is %s the %s data directory?)", err, dataDir, word)
	}
	if port, err = conf.Port(); err != nil {
		return nil, 0, app.Errorf("%s port in %s: %v", word, filepath.Join(dataDir, "postgresql.conf"), err)
	}
	log.Debug(fmt.Sprintf("Read from postgresql.conf port=%d", port))
	return conf, port, nil
}
