package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ctEvent is a compact CloudTrail event with a unique eventID; pad adds
// hard-to-compress bytes so a file can be made larger than a read buffer.
func ctEvent(i int, pad int) string {
	var p strings.Builder
	x := uint32(i*2654435761 + 12345)
	for range pad {
		x = x*1664525 + 1013904223
		p.WriteByte("0123456789abcdef"[x>>28])
	}
	return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"u%d"},"eventTime":"2024-03-05T11:%02d:%02dZ","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","requestParameters":{"pad":"%s"},"eventID":"%08d-0000-4000-8000-000000000000","recipientAccountId":"111122223333"}`,
		i, i/60%60, i%60, p.String(), i)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runInputs(t testing.TB, inputs []string, opts Options) (*memSink, Stats) {
	t.Helper()
	sink := &memSink{}
	st, err := Run(context.Background(), inputs, sink, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sink, st
}

// A worker reuses its read buffers from file to file. Whatever the order of
// plain, gzip and zstd files (each larger than a buffer), no buffer may end
// up reading from itself: that overflowed the stack.
func TestWorkerBuffersAnyFileOrder(t *testing.T) {
	kinds := map[string]func([]byte) []byte{
		"plain": func(b []byte) []byte { return b },
		"gz":    func(b []byte) []byte { return gzipBytes(t, b) },
		"zst":   func(b []byte) []byte { return zstdBytes(t, b) },
		"gzgz":  func(b []byte) []byte { return gzipBytes(t, gzipBytes(t, b)) },
		"small": func(b []byte) []byte { return gzipBytes(t, b[:strings.IndexByte(string(b), '\n')+1]) },
	}
	orders := [][]string{
		{"plain", "gz"}, {"gz", "plain"}, {"plain", "zst", "plain", "gz"},
		{"gz", "gz", "plain", "plain", "gzgz", "plain"}, {"small", "plain", "gz", "zst", "gzgz", "small"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			dir := t.TempDir()
			want := 0
			for i, kind := range order {
				var lines strings.Builder
				for j := range 60 {
					fmt.Fprintln(&lines, ctEvent(i*1000+j, 3000)) // 180 KB, hardly compressible
				}
				data := kinds[kind]([]byte(lines.String()))
				if kind != "small" && len(data) <= 64<<10 {
					t.Fatalf("%s file is %d bytes, want more than a read buffer", kind, len(data))
				}
				if kind == "small" {
					want++
				} else {
					want += 60
				}
				writeFile(t, dir, fmt.Sprintf("%02d-%s.json", i, kind), data)
			}
			sink, st := runInputs(t, []string{dir}, Options{Workers: 1})
			if len(sink.events) != want || st.FilesFailed != 0 {
				t.Fatalf("events = %d, want %d; stats %+v", len(sink.events), want, st)
			}
		})
	}
}
