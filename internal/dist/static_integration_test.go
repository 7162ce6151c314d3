//go:build integration

package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckStaticCatchesCgo builds a program that resolves a host name and
// looks up a user, as the tools do, once with cgo (linked against this
// machine's glibc, as the tools were before they were static) and once
// without: CheckStatic must reject the first, naming libc and its symbol
// versions, and accept the second. It needs gcc, as the compat GPHOME's
// build does.
func TestCheckStaticCatchesCgo(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod": "module lookup\n\ngo 1.22\n",
		"main.go": `package main

import (
	"fmt"
	"net"
	"os/user"
)

func main() {
	u, err := user.Current()
	fmt.Println(u, err)
	fmt.Println(net.LookupHost("localhost"))
}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func(cgo string) string {
		exe := filepath.Join(dir, "lookup-cgo"+cgo)
		cmd := exec.Command("go", "build", "-o", exe, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("CGO_ENABLED=%s go build: %v\n%s", cgo, err, out)
		}
		return exe
	}
	check := func(exe string) error {
		f, err := os.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return CheckStatic(f)
	}

	err := check(build("1"))
	if err == nil {
		t.Fatal("CheckStatic accepted a program built with cgo")
	}
	t.Logf("the cgo build: %v", err)
	for _, want := range []string{"program interpreter /", "needs libc.so.6", "symbols of versions GLIBC_2."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckStatic's error lacks %q:\n%v", want, err)
		}
	}
	if err := check(build("0")); err != nil {
		t.Errorf("CheckStatic rejected a program built with CGO_ENABLED=0: %v", err)
	}
}
