//go:build integration

package dist

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// The release the tests build, and what it must hold.
const (
	version = "v0.0.0-disttest"
	epoch   = 1700000000 // SOURCE_DATE_EPOCH: every file's date in the tarballs
)

var (
	tools    = []string{"gpaddmirrors", "gprecoverseg", "gpstart", "gpstate", "gpstop"}
	machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
)

// TestDist runs make dist as a release would and checks every shipped
// file: the SHA-256 file, the tarballs' layout, owners, dates and modes,
// and each binary: static (no dynamic section, no glibc symbol
// versions), of its tarball's architecture, free of build paths, and
// stamped with the version. Then it builds the release again from a copy
// of the tree elsewhere and wants the same bytes (for linux/amd64 only:
// the second platform would double the time and prove nothing more).
func TestDist(t *testing.T) {
	root := testbed.RepoRoot()
	out := t.TempDir()
	makeDist(t, root, out)
	sums := readSums(t, out)

	var names []string
	for arch := range machines {
		names = append(names, "gpmgmt-"+version+"-linux-"+arch+".tar.gz")
	}
	slices.Sort(names)
	if d := cmp.Diff(names, sortedKeys(sums)); d != "" {
		t.Fatalf("gpmgmt-%s-SHA256SUMS lists other files (-want +got):\n%s", version, d)
	}
	leaks := buildPaths(t, root, out)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sums[name] {
				t.Errorf("sha256 %x, the SHA256SUMS file says %s", got, sums[name])
			}
			arch := strings.TrimSuffix(strings.TrimPrefix(name, "gpmgmt-"+version+"-linux-"), ".tar.gz")
			checkTarball(t, b, strings.TrimSuffix(name, ".tar.gz"), arch, leaks)
		})
	}

	t.Run("reproducible", func(t *testing.T) {
		elsewhere := filepath.Join(t.TempDir(), "src")
		copyTree(t, root, elsewhere)
		again := t.TempDir()
		makeDist(t, elsewhere, again, "PLATFORMS=linux/amd64")
		name := "gpmgmt-" + version + "-linux-amd64.tar.gz"
		if got := readSums(t, again)[name]; got != sums[name] {
			t.Errorf("%s built from %s has sha256 %s, built from %s %s", name, elsewhere, got, root, sums[name])
		}
	})
}

// makeDist runs make dist in the tree at root, writing into out, with
// extra make arguments.
func makeDist(t *testing.T, root, out string, args ...string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory", "-C", root, "dist", "VERSION=" + version, "DIST=" + out}, args...)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+itoa(epoch))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}
	t.Logf("make dist in %s: %s", root, time.Since(start).Round(time.Second))
}

// readSums reads OUT/gpmgmt-VERSION-SHA256SUMS: file name to checksum.
func readSums(t *testing.T, out string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "gpmgmt-"+version+"-SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("not a sha256sum line: %q", sc.Text())
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// checkTarball checks one tarball: every entry under top/, owned by 0:0,
// dated epoch, with fixed modes; README.md, and bin/<tool> and its man
// page and completions for each tool, and nothing else but LICENSE when
// the tree has one; each binary checked by checkBinary.
func checkTarball(t *testing.T, tgz []byte, top, arch string, leaks []string) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header stores name %q, time %s: not reproducible", zr.Name, zr.ModTime)
	}
	want := []string{top + "/", top + "/README.md", top + "/bin/"}
	if _, err := os.Stat(filepath.Join(testbed.RepoRoot(), "LICENSE")); err == nil {
		want = append(want, top+"/LICENSE")
	}
	for _, d := range []string{"share/", "share/man/", "share/man/man1/", "share/bash-completion/", "share/bash-completion/completions/",
		"share/zsh/", "share/zsh/site-functions/", "share/fish/", "share/fish/vendor_completions.d/"} {
		want = append(want, top+"/"+d)
	}
	for _, tool := range tools {
		want = append(want, top+"/bin/"+tool)
		for _, f := range installedDocs(tool) {
			want = append(want, top+"/"+f)
		}
	}
	slices.Sort(want)
	var got []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir || strings.HasPrefix(h.Name, top+"/bin/") {
			wantMode = 0o755
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.Mode != wantMode || h.ModTime.Unix() != epoch {
			t.Errorf("%s: owner %d:%d (%q:%q), mode %o, date %s; want 0:0, no names, mode %o, date @%d",
				h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.Mode, h.ModTime.UTC(), wantMode, epoch)
		}
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(h.Name, top+"/bin/") {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			checkBinary(t, path.Base(h.Name), b, arch, leaks)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("entries not sorted by name: %q", got)
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s holds other files (-want +got):\n%s", top, d)
	}
}

// checkBinary checks one shipped binary: static, for arch, no build path
// in it, and, when it runs here, stamped with the version.
func checkBinary(t *testing.T, tool string, b []byte, arch string, leaks []string) {
	t.Helper()
	if err := CheckStatic(bytes.NewReader(b)); err != nil {
		t.Errorf("%s: %v", tool, err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if f.Machine != machines[arch] {
		t.Errorf("%s: machine %s, want %s", tool, f.Machine, machines[arch])
	}
	for _, p := range leaks {
		if bytes.Contains(b, []byte(p)) {
			t.Errorf("%s holds the build path %s (built without -trimpath?)", tool, p)
		}
	}
	if arch != runtime.GOARCH {
		return
	}
	exe := filepath.Join(t.TempDir(), tool)
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	outb, err := exec.Command(exe, "--version").CombinedOutput()
	if want := tool + " version gpmgmt " + version + "\n"; err != nil || string(outb) != want {
		t.Errorf("%s --version: %v, %q; want %q", tool, err, outb, want)
	}
}

// buildPaths are the directories of this build that must not appear in a
// binary: the tree, the output directory, Go's root and module cache.
func buildPaths(t *testing.T, dirs ...string) []string {
	t.Helper()
	for _, v := range []string{"GOROOT", "GOMODCACHE", "GOPATH"} {
		b, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", v, err)
		}
		for p := range strings.SplitSeq(strings.TrimSpace(string(b)), string(os.PathListSeparator)) {
			if p != "" {
				dirs = append(dirs, p)
			}
		}
	}
	return dirs
}

// copyTree copies the source tree at src to dst, without what builds and
// runs leave in it.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	skip := map[string]bool{".git": true, "bin": true, "build": true, "dist": true, "demo-cluster": true}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a worktree's .git is a file
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
		return nil // sockets, links: nothing a build reads
	})
	if err != nil {
		t.Fatalf("copy the tree: %v", err)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// installedDocs are the files make install puts in PREFIX for tool besides
// the binary: its man page and its bash, zsh and fish completions.
func installedDocs(tool string) []string {
	return []string{"share/man/man1/" + tool + ".1", "share/bash-completion/completions/" + tool,
		"share/zsh/site-functions/_" + tool, "share/fish/vendor_completions.d/" + tool + ".fish"}
}
