package ingest

import (
	"archive/tar"
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
)

func makeZip(members map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range sortedKeys(members) {
		w, _ := zw.Create(name)
		w.Write(members[name])
	}
	zw.Close()
	return b.Bytes()
}

func makeTar(members map[string][]byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range sortedKeys(members) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(members[name])), Typeflag: tar.TypeReg})
		tw.Write(members[name])
	}
	tw.Close()
	return b.Bytes()
}

func sortedKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

func archiveSeeds() map[string][]byte {
	return map[string][]byte{
		"a.jsonl":           ndjsonEvents(3),
		"dir/b.json":        []byte(`{"Records":[{"eventID":"x"`),
		"notes.txt":         []byte("not json"),
		"__MACOSX/._a.json": {0, 5, 22, 7},
		"empty.json":        nil,
	}
}

// walkArchiveInput runs an archive given on stdin through the whole
// pipeline, with a small in-memory threshold so large members are spooled,
// and checks that every member the archive lists has a manifest row.
func walkArchiveInput(t *testing.T, data []byte, members []string) {
	sink := &memSink{}
	_, err := Run(context.Background(), []string{"-"}, sink, Options{Stdin: bytes.NewReader(data), inMemory: 4096, MaxRecordSize: 1 << 16, Workers: 2})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	paths := map[string]string{}
	for _, f := range sink.files {
		switch f.Status {
		case StatusLoaded, StatusSkipped, StatusFailed, StatusDuplicate:
		default:
			t.Fatalf("file %q has status %q", f.Path, f.Status)
		}
		paths[f.Path] = f.Status
	}
	if len(sink.files) == 0 {
		t.Fatal("no manifest row for the input")
	}
	prefix := "stdin:" + hexSHA(data)[:16]
	if _, ok := paths[prefix]; !ok {
		t.Fatalf("no manifest row for the archive itself among %v", paths)
	}
	for _, m := range members {
		if _, ok := paths[prefix+"!"+m]; !ok {
			t.Errorf("member %q has no manifest row (rows: %v)", m, paths)
		}
	}
}

// FuzzZipWalker: no panic, no hang, every member of a readable zip is
// loaded, skipped or failed.
func FuzzZipWalker(f *testing.F) {
	f.Add(makeZip(archiveSeeds()))
	f.Add(makeZip(map[string][]byte{"inner.zip": makeZip(archiveSeeds()), "x.json": ndjsonEvents(1)}))
	f.Add(makeZip(map[string][]byte{"big.jsonl": ndjsonEvents(100)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if sniff(data) != zipped {
			return
		}
		var members []string
		if zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err == nil {
			for _, zf := range zr.File {
				if !zf.FileInfo().IsDir() {
					members = append(members, zf.Name)
				}
			}
		}
		walkArchiveInput(t, data, members)
	})
}

// FuzzTarWalker: the same for tar and tar.gz streams; members before a
// corrupt header are accounted for.
func FuzzTarWalker(f *testing.F) {
	plain := makeTar(archiveSeeds())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	f.Add(plain)
	f.Add(gz.Bytes())
	f.Add(plain[:len(plain)-700])
	f.Add(makeTar(map[string][]byte{"./big.jsonl": ndjsonEvents(100), "nested.tar": makeTar(archiveSeeds())}))
	f.Fuzz(func(t *testing.T, data []byte) {
		inner := data
		if sniff(data) == gzipped {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return
			}
			var b bytes.Buffer
			if _, err := b.ReadFrom(zr); err != nil {
				return
			}
			inner = b.Bytes()
		}
		if sniff(inner) != tarred {
			return
		}
		var members []string
		tr := tar.NewReader(bytes.NewReader(inner))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if h.Typeflag == tar.TypeReg {
				members = append(members, strings.TrimPrefix(h.Name, "./"))
			}
		}
		walkArchiveInput(t, data, members)
	})
}
