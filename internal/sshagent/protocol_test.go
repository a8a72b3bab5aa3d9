package sshagent_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/sshagent"
)

// rawRequest sends one framed agent request and returns the reply body.
func rawRequest(t *testing.T, c net.Conn, body []byte) []byte {
	t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := c.Write(append(frame, body...)); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	var length [4]byte
	if _, err := io.ReadFull(c, length[:]); err != nil {
		t.Fatalf("reading reply length: %v", err)
	}
	reply := make([]byte, binary.BigEndian.Uint32(length[:]))
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return reply
}

// TestProtocolRefusesEverythingElse speaks the wire protocol directly, so
// request types agent.Client cannot send (v1, constrained add, unknown) are
// covered too.
func TestProtocolRefusesEverythingElse(t *testing.T) {
	ed := newEd25519Key(t, t.TempDir(), "id_ed25519")
	_, path, _ := servedAgent(t, sshagent.Spec{ID: "k", Paths: []string{ed.file}})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))

	tests := []struct {
		name string
		body []byte
	}{
		{"v1 request identities", []byte{1}},
		{"v1 remove all", []byte{9}},
		{"add identity", append([]byte{17}, []byte("\x00\x00\x00\x0bssh-ed25519garbage")...)},
		{"remove identity", append([]byte{18}, ed.pub.Marshal()...)},
		{"remove all", []byte{19}},
		{"add smartcard key", []byte{20, 0, 0, 0, 0}},
		{"lock", []byte{22, 0, 0, 0, 2, 'p', 'w'}},
		{"unlock", []byte{23, 0, 0, 0, 2, 'p', 'w'}},
		{"add constrained", []byte{25}},
		{"extension", []byte{27, 0, 0, 0, 4, 'q', 'u', 'e', 'r'}},
		{"unknown", []byte{200}},
		{"truncated sign request", []byte{13, 0, 0, 0, 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if reply := rawRequest(t, c, tt.body); len(reply) != 1 || reply[0] != 5 {
				t.Errorf("reply = %v, want SSH_AGENT_FAILURE [5]", reply)
			}
		})
	}
	// The connection still works and the key is still there.
	reply := rawRequest(t, c, []byte{11})
	if len(reply) < 5 || reply[0] != 12 || binary.BigEndian.Uint32(reply[1:5]) != 1 {
		t.Fatalf("identities reply = %v, want one key", reply)
	}
}

func TestProtocolBadFrames(t *testing.T) {
	ed := newEd25519Key(t, t.TempDir(), "id_ed25519")
	_, path, _ := servedAgent(t, sshagent.Spec{ID: "k", Paths: []string{ed.file}})
	tests := []struct {
		name   string
		length uint32
	}{
		{"zero length", 0},
		{"too large", 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(binary.BigEndian.AppendUint32(nil, tt.length)); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("read after bad frame = %d, %v; want the connection closed", n, err)
			}
		})
	}
}
