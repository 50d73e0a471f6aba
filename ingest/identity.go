package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// This file and query's identity.go are the one definition of "the same
// event": in Go here, in SQL there (sameEventSQL), over the same columns
// in the same order.

// Identity is what makes two stored events the same event: the fields of
// the key (eventKey), compared in full rather than through the
// 64-bit key, which an attacker who writes log lines can make collide. An
// event whose key has RawKeyBit is identified by its whole raw
// content instead.
type Identity struct {
	Key                uint64
	TimeMicros         int64 // as stored (microseconds); NoTime when absent
	EventID            string
	EventSource        string
	EventName          string
	RecipientAccountID string
	AWSRegion          string
	AccountID          string
	Raw                string // compared only for RawKeyBit keys
}

// NoTime stands for an event without a time in Identity.TimeMicros.
const NoTime = math.MinInt64

// Digest is a SHA-256 of the identity, for sets that must stay small in
// memory: two different identities share one only by breaking SHA-256.
func (id Identity) Digest() [32]byte {
	// The fields are laid out in one buffer and hashed at once: writing
	// each string into a hash.Hash copied it first (Go's SHA-256 has no
	// WriteString), a seventh of the staging writer's key filter.
	var stack [256]byte
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(stack[:0], id.Key), uint64(id.TimeMicros))
	fields := [...]string{id.EventID, id.EventSource, id.EventName, id.RecipientAccountID, id.AWSRegion, id.AccountID, ""}
	if id.Key&RawKeyBit != 0 {
		fields[len(fields)-1] = id.Raw
	}
	for _, s := range fields {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	return sha256.Sum256(b)
}

// Identity is the event's identity as a store keeps it.
func (ev *Event) Identity() Identity {
	id := Identity{Key: ev.Key, TimeMicros: NoTime, EventID: ev.EventID, EventSource: ev.EventSource, EventName: ev.EventName,
		RecipientAccountID: ev.RecipientAccountID, AWSRegion: ev.AWSRegion, AccountID: ev.AccountID, Raw: ev.Raw}
	if ev.HasTime {
		id.TimeMicros = ev.Time.UTC().UnixMicro()
	}
	return id
}
