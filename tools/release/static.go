package main

import (
	"debug/elf"
	"fmt"
)

// checkStatic fails when an ELF binary asks for a dynamic loader or names a
// shared library: such a binary built against glibc does not start on musl
// systems such as the official Vault container image.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has a program interpreter)", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: reading its dynamic section: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s is dynamically linked against %v", path, libs)
	}
	return nil
}
