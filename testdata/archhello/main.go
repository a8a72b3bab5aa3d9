// Command archhello writes the architecture it was built for (runtime.GOARCH) into the
// file its argument names: a static binary per platform that shows, in an image, which
// platform's step ran (natively or through qemu-user emulation).
package main

import (
	"os"
	"runtime"
)

func main() {
	if len(os.Args) != 2 {
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], []byte(runtime.GOARCH+"\n"), 0o644); err != nil {
		os.Exit(1)
	}
}
