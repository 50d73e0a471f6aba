package lake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/trailsift/trailsift/ingest"
)

// Directory names inside a dataset.
const (
	FilesDir   = "_files"
	ErrorsDir  = "_ingest_errors"
	stagingDir = "_staging"
	commitsDir = "_commits"
)

// nullPartition is Hive's name for a NULL partition value; Spark and Hive
// read it back as NULL.
const nullPartition = "__HIVE_DEFAULT_PARTITION__"

// EventsGlob matches every events file of the dataset at dir.
func EventsGlob(dir string) string {
	return filepath.Join(dir, "account=*", "region=*", "date=*", "*.parquet")
}

// partitionDir is the relative directory of an event's partition. account
// and region come from the log, so they are escaped: a value can never
// climb out of the dataset or make an odd directory name.
func partitionDir(account, region string, t time.Time, hasTime bool) string {
	date := nullPartition
	if hasTime {
		date = t.UTC().Format(time.DateOnly)
	}
	return filepath.Join("account="+escapeValue(account), "region="+escapeValue(region), "date="+date)
}

// partitionMemo remembers the partition of the last event it was asked
// about: events come in runs of one account, region and day (a CloudTrail
// file holds one), and building the folder name for each was a fifth of
// the cost of buffering it.
type partitionMemo struct {
	account, region string
	day             int64 // days since 1970 (UTC); meaningless without hasTime
	hasTime, set    bool
	path            string
}

func (m *partitionMemo) dir(ev *ingest.Event) string {
	var day int64
	if ev.HasTime {
		day = floorDiv(ev.Time.Unix(), 86400)
	}
	if !m.set || m.hasTime != ev.HasTime || m.day != day || m.account != ev.AccountID || m.region != ev.AWSRegion {
		*m = partitionMemo{account: ev.AccountID, region: ev.AWSRegion, day: day, hasTime: ev.HasTime, set: true,
			path: partitionDir(ev.AccountID, ev.AWSRegion, ev.Time, ev.HasTime)}
	}
	return m.path
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// maxValueLen caps a partition value; CloudTrail's are 12-digit accounts
// and region names, so only a hostile log reaches it.
const maxValueLen = 64

// escapeValue percent-encodes every byte outside [A-Za-z0-9_-], as Hive
// escapes partition values (dots too, so ".." cannot appear).
func escapeValue(v string) string {
	if v == "" {
		return nullPartition
	}
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < maxValueLen; i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// newRunID names the part files of one ingest run. It is random, so runs on
// different machines writing parts of one dataset never collide.
func newRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func partName(commit string) string { return "part-" + commit + ".parquet" }
