package sshagent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// The agent wire protocol (draft-miller-ssh-agent) as far as a build step may
// use it. agent.ServeAgent is not used: it would parse private keys a step
// sends with Add before refusing them, and it reports every failed request
// through the standard library's global logger.
const (
	msgFailure            = 5
	msgRequestIdentities  = 11
	msgIdentitiesAnswer   = 12
	msgSignRequest        = 13
	msgSignResponse       = 14
	maxRequestBytes       = 1 << 20
	maxReplyBytes         = 16 << 20
	requestLengthFieldLen = 4
)

type signRequest struct {
	KeyBlob []byte `sshtype:"13"`
	Data    []byte
	Flags   uint32
}

type signResponse struct {
	SigBlob []byte `sshtype:"14"`
}

type identity struct {
	Blob    []byte
	Comment string
}

// keyFormat is the leading algorithm name of a public key blob.
type keyFormat struct {
	Format string
	Rest   []byte `ssh:"rest"`
}

// serveConn answers agent requests on rw until it fails or is closed. Only
// listing identities and signing reach view; every other request, including
// extensions, is answered with SSH_AGENT_FAILURE, which clients read as
// "refused" (or agent.ErrExtensionUnsupported for extensions).
func serveConn(view agent.ExtendedAgent, rw io.ReadWriter) error {
	var length [requestLengthFieldLen]byte
	for {
		if _, err := io.ReadFull(rw, length[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(length[:])
		if n == 0 || n > maxRequestBytes {
			return fmt.Errorf("reading agent request: bad length %d", n)
		}
		req := make([]byte, n)
		if _, err := io.ReadFull(rw, req); err != nil {
			return fmt.Errorf("reading agent request: %w", err)
		}
		reply := answer(view, req)
		if len(reply) > maxReplyBytes {
			reply = []byte{msgFailure}
		}
		binary.BigEndian.PutUint32(length[:], uint32(len(reply)))
		if _, err := rw.Write(append(length[:], reply...)); err != nil {
			return fmt.Errorf("writing agent reply: %w", err)
		}
	}
}

// answer handles one request; any failure becomes SSH_AGENT_FAILURE.
func answer(view agent.ExtendedAgent, req []byte) []byte {
	var (
		reply []byte
		err   error
	)
	switch req[0] {
	case msgRequestIdentities:
		reply, err = listIdentities(view)
	case msgSignRequest:
		reply, err = sign(view, req)
	default:
		err = ErrReadOnly
	}
	if err != nil {
		return []byte{msgFailure}
	}
	return reply
}

func listIdentities(view agent.ExtendedAgent) ([]byte, error) {
	keys, err := view.List()
	if err != nil {
		return nil, err
	}
	reply := []byte{msgIdentitiesAnswer}
	reply = binary.BigEndian.AppendUint32(reply, uint32(len(keys)))
	for _, k := range keys {
		reply = append(reply, ssh.Marshal(identity{Blob: k.Blob, Comment: k.Comment})...)
	}
	return reply, nil
}

func sign(view agent.ExtendedAgent, req []byte) ([]byte, error) {
	var r signRequest
	if err := ssh.Unmarshal(req, &r); err != nil {
		return nil, fmt.Errorf("parsing sign request: %w", err)
	}
	var kf keyFormat
	if err := ssh.Unmarshal(r.KeyBlob, &kf); err != nil {
		return nil, fmt.Errorf("parsing sign request key: %w", err)
	}
	// Pass the key through as a blob, so key types this package cannot
	// parse (security keys, certificates) still work against an upstream agent.
	key := &agent.Key{Format: kf.Format, Blob: r.KeyBlob}
	sig, err := view.SignWithFlags(key, r.Data, agent.SignatureFlags(r.Flags))
	if err != nil {
		return nil, err
	}
	if sig == nil {
		return nil, errors.New("agent returned no signature")
	}
	return ssh.Marshal(signResponse{SigBlob: ssh.Marshal(sig)}), nil
}
