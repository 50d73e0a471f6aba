package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math"
)

// Identity is what makes two stored events the same event: the fields of
// eventKey, compared in full rather than through the 64-bit key, which an
// attacker who writes log lines can make collide. An event whose key has
// RawKeyBit is identified by its whole raw content instead.
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

// IdentityOf gives an event's identity as a store would read it back.
func IdentityOf(ev *Event) Identity {
	id := Identity{Key: ev.Key, TimeMicros: NoTime, EventID: ev.EventID, EventSource: ev.EventSource, EventName: ev.EventName,
		RecipientAccountID: ev.RecipientAccountID, AWSRegion: ev.AWSRegion, AccountID: ev.AccountID, Raw: ev.Raw}
	if ev.HasTime {
		id.TimeMicros = ev.Time.UnixMicro()
	}
	return id
}

// Digest is a SHA-256 of the identity, for sets that must stay small in
// memory: two different identities share one only by breaking SHA-256.
func (id Identity) Digest() [32]byte {
	h := sha256.New()
	var b [binary.MaxVarintLen64 + 16]byte
	h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b[:0], id.Key), uint64(id.TimeMicros)))
	fields := [...]string{id.EventID, id.EventSource, id.EventName, id.RecipientAccountID, id.AWSRegion, id.AccountID, ""}
	if id.Key&RawKeyBit != 0 {
		fields[len(fields)-1] = id.Raw
	}
	for _, s := range fields {
		h.Write(binary.AppendUvarint(b[:0], uint64(len(s))))
		_, _ = io.WriteString(h, s) // a hash never fails
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
