// Command sockprobe is a static test program run inside build steps: it tries to connect to
// the unix socket named by its argument, writes a line if it can, and prints
// "connected" or "refused: <error>". It always exits 0.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Println("usage: sockprobe SOCKET")
		return
	}
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	defer c.Close()
	fmt.Fprintln(c, "HELLO-FROM-STEP")
	fmt.Println("connected")
}
