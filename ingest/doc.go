// Package ingest finds CloudTrail evidence, reads it and decodes it into
// events: it is the only package that reads input files.
//
// What goes in: paths (files, folders, zip/tar/gzip/zstd archives nested
// any way, named pipes, "-" for stdin) and the manifest of what a store
// holds already. What comes out, to a Sink, in order: each file's events
// (Event: the normalised columns, the event's JSON as compact strict JSON
// in Raw, its Key) and then the file itself (File: path, SHA-256, shape,
// status and the errors found in it, with record index or byte offset);
// Run returns the Stats of the run.
//
// What always holds:
//   - Every input is read once: hashed and decoded from the same bytes,
//     never extracted to disk beside the evidence, which is only read.
//   - Everything in a log is attacker-controlled: records are capped in
//     size (Options.MaxRecordSize), nesting and counts are bounded, and
//     memory stays bounded whatever the input.
//   - Bad input costs only itself: a broken record, file or archive member
//     is recorded in its File with where it broke, and the good input
//     around it is kept.
//   - A file reaches FileDone only after all of its events reached
//     WriteEvents, so a sink that commits a file's row with or after its
//     events never claims a file it has not stored.
//   - Event.Key is a hash of the event's identity (eventID, instant,
//     source, name, accounts, region; or its whole content, RawKeyBit): an
//     index only. Which events are the same is decided by the store, with
//     the fields themselves (Identity).
//
// ingest imports no other trailsift package.
package ingest
