package ingest

// Rereader decodes events as a store holds them (their raw JSON) the way
// this version decodes them from a file: a store made by an older version
// is migrated with it, so that its keys and columns are the ones this
// version would store. Not safe for concurrent use.
type Rereader struct{ n normalizer }

// Event decodes raw into ev. Key, Time and every column are this
// version's; FileID and RecordIndex are left to the caller.
func (r *Rereader) Event(raw string, ev *Event) error {
	_, err := r.n.normalize([]byte(raw), ev)
	return err
}
