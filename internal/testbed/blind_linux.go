package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// How Blind works. The command starts the test binary itself (helperName as
// argv[0], recognised by the init function below, as Docker's reexec
// package does, so test packages need no TestMain and nothing is built at
// test time) in a new user namespace that maps only the test's own uid and gid
// onto themselves, and a new mount namespace owned by it. The kernel lets
// any user do that, and the only privilege the helper holds there is
// CAP_SYS_ADMIN, passed as an ambient capability so that it survives the
// exec of a non-root program. The helper makes its mounts private, mounts
// an empty read-only tmpfs over each hidden directory, checks that each now
// reads empty, drops every capability and executes the tool, which so runs
// as the same uid and gid (and user name) as the test, unprivileged.
// mount(8) cannot do this (it refuses non-root users), and `unshare
// --map-root-user` would run the tool as root.

const (
	capSysAdmin = 21         // CAP_SYS_ADMIN, linux/capability.h
	capVersion3 = 0x20080522 // _LINUX_CAPABILITY_VERSION_3
	tmpfsMagic  = 0x01021994 // TMPFS_MAGIC, linux/magic.h
)

// Exit codes of the helper when it cannot run the tool, as env(1) uses them.
const (
	exitSetup    = 125
	exitNoExec   = 126
	exitNotFound = 127
)

func init() {
	if len(os.Args) == 0 || os.Args[0] != helperName {
		return
	}
	runtime.LockOSThread() // capabilities are per thread: drop them on the one that execs
	code, err := runHelper(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed.Blind: %v\n", err)
	}
	os.Exit(code)
}

// runHelper returns only if it cannot execute the tool, or if there is no
// tool to execute (the probe).
func runHelper(argv []string) (int, error) {
	hide, path, args, err := parseHelperArgs(argv)
	if err != nil {
		return exitSetup, err
	}
	if err := hideDirs(hide); err != nil {
		return exitSetup, err
	}
	if path == "" {
		return 0, nil
	}
	if err := dropCapabilities(); err != nil {
		return exitSetup, err
	}
	err = syscall.Exec(path, args, os.Environ())
	if errors.Is(err, syscall.ENOENT) {
		return exitNotFound, fmt.Errorf("exec %s: %w", path, err)
	}
	return exitNoExec, fmt.Errorf("exec %s: %w", path, err)
}

func hideDirs(dirs []string) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	dirs = outermost(dirs)
	const flags = syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC
	for _, d := range dirs {
		if err := syscall.Mount("gpmgmt-blind", d, "tmpfs", flags, "mode=0555"); err != nil {
			return fmt.Errorf("hide %s: mount tmpfs: %w", d, err)
		}
	}
	for _, d := range dirs {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err != nil {
			return fmt.Errorf("hide %s: %w", d, err)
		}
		if st.Type != tmpfsMagic {
			return fmt.Errorf("hide %s: still on filesystem type %#x after mounting tmpfs", d, st.Type)
		}
		if entries, err := os.ReadDir(d); err != nil || len(entries) > 0 {
			return fmt.Errorf("hide %s: not empty after mounting tmpfs (%d entries, %v)", d, len(entries), err)
		}
	}
	// The working directory was entered before the mounts; enter it again
	// by name so that one inside a hidden directory is hidden too.
	wd, err := syscall.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := syscall.Chdir(wd); err != nil {
		return fmt.Errorf("working directory %s (inside a hidden directory?): %w", wd, err)
	}
	return nil
}

// dropCapabilities empties the calling thread's effective, permitted and
// inheritable sets, which also empties its ambient set, so the tool
// executed next starts with no capabilities at all.
func dropCapabilities() error {
	hdr := struct {
		version uint32
		pid     int32
	}{version: capVersion3}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("drop capabilities: %w", e)
	}
	return nil
}

// checkSysProcAttr refuses attributes that Blind would override or that
// would defeat it.
func checkSysProcAttr(a *syscall.SysProcAttr) error {
	if a == nil {
		return nil
	}
	if a.Credential != nil || a.UidMappings != nil || a.GidMappings != nil || len(a.AmbientCaps) > 0 ||
		a.Chroot != "" || a.Cloneflags&(syscall.CLONE_NEWUSER|syscall.CLONE_NEWNS) != 0 {
		return errors.New("cmd.SysProcAttr already sets credentials, capabilities, a chroot or namespaces")
	}
	return nil
}

// namespaceAttr is base (which may be nil) plus a new user namespace mapping
// only the current uid and gid onto themselves, a new mount namespace, and
// CAP_SYS_ADMIN for the helper to mount with.
func namespaceAttr(base *syscall.SysProcAttr) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if base != nil {
		c := *base
		a = &c
	}
	a.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
	a.GidMappingsEnableSetgroups = false
	a.AmbientCaps = []uintptr{capSysAdmin}
	return a
}

var helper struct {
	once sync.Once
	path string
	err  error
}

// helperPath is the test binary, once a probe has shown that it can hide a
// directory here.
func helperPath() (string, error) {
	helper.once.Do(func() { helper.path, helper.err = probe() })
	return helper.path, helper.err
}

func probe() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the test binary to re-execute: %w", err)
	}
	dir, err := os.MkdirTemp("", "gpmgmt-blind-probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "visible"), nil, 0o644); err != nil {
		return "", err
	}
	cmd := &exec.Cmd{Path: exe, Args: helperArgs([]string{dir}, "", nil), SysProcAttr: namespaceAttr(nil)}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot hide directories: an unprivileged user and mount namespace did not work (%v)%s%s",
			err, indent(strings.TrimSpace(string(out))), namespaceLimits())
	}
	return exe, nil
}

// namespaceLimits lists the kernel settings that allow or forbid
// unprivileged user namespaces, as far as this kernel has them.
func namespaceLimits() string {
	var b strings.Builder
	for _, f := range []string{
		"/proc/sys/user/max_user_namespaces",                     // 0 forbids
		"/proc/sys/user/max_mnt_namespaces",                      // 0 forbids
		"/proc/sys/kernel/unprivileged_userns_clone",             // Debian: 0 forbids
		"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", // Ubuntu: 1 forbids
	} {
		if v, err := os.ReadFile(f); err == nil {
			fmt.Fprintf(&b, "\n\t%s = %s", f, strings.TrimSpace(string(v)))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nkernel settings:" + b.String()
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "\n\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
