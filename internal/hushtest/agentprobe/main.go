// Command agentprobe is a static test binary copied into test images: it talks to the SSH
// agent at $SSH_AUTH_SOCK, prints each key's fingerprint, signs a challenge with each key
// and verifies the signature, and tries to remove all keys (which hush's agent must refuse).
package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func main() {
	conn, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	a := agent.NewClient(conn)
	keys, err := a.List()
	if err != nil {
		fmt.Println("list:", err)
		os.Exit(1)
	}
	challenge := []byte("hush agent probe challenge")
	for _, k := range keys {
		pub, err := ssh.ParsePublicKey(k.Blob)
		if err != nil {
			fmt.Println("parse:", err)
			os.Exit(1)
		}
		sig, err := a.Sign(pub, challenge)
		if err != nil {
			fmt.Println("sign:", err)
			os.Exit(1)
		}
		fmt.Printf("key %s sign-verify=%v\n", ssh.FingerprintSHA256(pub), pub.Verify(challenge, sig) == nil)
	}
	if err := a.RemoveAll(); err != nil {
		fmt.Println("removeall refused")
	} else {
		fmt.Println("removeall ALLOWED")
	}
	after, _ := a.List()
	fmt.Printf("keys=%d after=%d\n", len(keys), len(after))
}
