package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// KeyFormat names the key format (docs/spec/cache-key.md): the first field of every key,
// and what an exported cache says its keys are, so that an importer never matches keys it
// computes another way.
const KeyFormat = "hush-cache-1"

// Key accumulates the inputs of one step.
type Key struct {
	h hash.Hash
}

// NewKey starts a key chained to the parent state's key.
func NewKey(kind, parent string) *Key {
	k := &Key{h: sha256.New()}
	k.Add("v", KeyFormat)
	k.Add("kind", kind)
	k.Add("parent", parent)
	return k
}

// Add adds a named non-secret field. Field order matters.
func (k *Key) Add(name, value string) *Key {
	k.field(name)
	k.bytes([]byte(value))
	return k
}

// AddList adds a named list of non-secret values.
func (k *Key) AddList(name string, values []string) *Key {
	k.field(name)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(values)))
	k.h.Write(n[:])
	for _, v := range values {
		k.bytes([]byte(v))
	}
	return k
}

func (k *Key) field(name string) {
	k.h.Write([]byte{'F'})
	k.bytes([]byte(name))
}

func (k *Key) bytes(b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	k.h.Write(n[:])
	k.h.Write(b)
}

// Sum returns the key as "sha256:<hex>".
func (k *Key) Sum() string {
	return "sha256:" + hex.EncodeToString(k.h.Sum(nil))
}
