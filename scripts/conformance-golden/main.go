// Command conformance-golden writes the golden files of a conformance case from an image
// BuildKit built (scripts/conformance.sh runs it): conformance-golden -base BASE.json
// IMAGE.tar CASE_DIR, where BASE.json is the base image's config (`hush inspect`) and
// IMAGE.tar an OCI archive.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/conformance"
)

func main() {
	base := flag.String("base", "", "the base image's config JSON; its layers are listed as \"base\"")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance-golden -base BASE.json IMAGE.tar CASE_DIR")
		os.Exit(2)
	}
	if err := run(*base, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "conformance-golden:", err)
		os.Exit(1)
	}
}

func run(base, image, dir string) error {
	isBase := func(string) bool { return false }
	if base != "" {
		raw, err := os.ReadFile(base)
		if err != nil {
			return err
		}
		if isBase, err = conformance.BaseLayers(raw); err != nil {
			return fmt.Errorf("%s: %w", base, err)
		}
	}
	s, err := conformance.Read(image, isBase)
	if err != nil {
		return err
	}
	files, err := s.Files()
	if err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
