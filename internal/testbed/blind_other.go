//go:build !linux

package testbed

import (
	"errors"
	"syscall"
)

func checkSysProcAttr(*syscall.SysProcAttr) error { return nil }

func namespaceAttr(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }

func helperPath() (string, error) {
	return "", errors.New("cannot hide directories: mount namespaces need Linux")
}
