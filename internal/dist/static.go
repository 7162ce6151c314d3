// Package dist checks what `make dist` ships: its tests build the release
// tarballs and hold every binary in them to the promises of the README
// (static, reproducible, stamped with the version).
package dist

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// CheckStatic returns nil when the ELF executable read from r links
// nothing at run time: no program interpreter, no dynamic section, no
// shared library needed and no versioned symbol imported (glibc's
// GLIBC_2.x). Otherwise its error names everything it found, so a cgo
// dependency that crept back in says where it came from.
func CheckStatic(r io.ReaderAt) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return err
	}
	defer f.Close()
	var found []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			interp, err := io.ReadAll(p.Open())
			if err != nil {
				return fmt.Errorf("read the program interpreter: %w", err)
			}
			found = append(found, "program interpreter "+strings.TrimRight(string(interp), "\x00"))
		case elf.PT_DYNAMIC:
			found = append(found, "a PT_DYNAMIC segment")
		}
	}
	if f.Section(".dynamic") != nil {
		found = append(found, "a .dynamic section")
	}
	libs, err := f.ImportedLibraries() // the DT_NEEDED entries
	if err != nil {
		return fmt.Errorf("read the needed libraries: %w", err)
	}
	for _, l := range libs {
		found = append(found, "needs "+l)
	}
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("read the imported symbols: %w", err)
	}
	perVersion := map[string]int{} // GLIBC_2.34: symbols imported at that version
	for _, s := range syms {
		if s.Version != "" {
			perVersion[s.Version]++
		}
	}
	if len(perVersion) > 0 {
		var vs []string
		for _, v := range slices.Sorted(maps.Keys(perVersion)) {
			vs = append(vs, fmt.Sprintf("%s (%d)", v, perVersion[v]))
		}
		found = append(found, "imports symbols of versions "+strings.Join(vs, ", "))
	}
	if len(found) > 0 {
		return fmt.Errorf("not static (cgo? build with CGO_ENABLED=0 as the Makefile does): %s", strings.Join(found, "; "))
	}
	return nil
}
