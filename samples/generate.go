// Package samples generates large, realistic CloudTrail corpora with planted
// sign-in and MFA incidents, for testing and benchmarking trailsift. The
// small bundled sample files next to this file are written by
// samples/internal/mksamples (see README.md).
//
// Output is byte-for-byte deterministic for the same Options (including
// Seed): every file is generated from its own random stream derived from the
// seed and the file's account, region and time slot, so files can be written
// in parallel in any order.
package samples

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trailsift/trailsift/samples/internal/ct"
)

// Options controls Generate.
type Options struct {
	Out      string    // output directory (created); files go under Out/AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random16>.json.gz
	Events   int       // approximate total number of events (planted incidents included)
	Accounts int       // default 2
	Regions  int       // default 3 (us-east-1 always first, then eu-west-1, ap-southeast-2, us-west-2, eu-central-1 ...)
	Days     int       // default 7
	Start    time.Time // default 2024-03-01T00:00:00Z
	Seed     int64     // deterministic output for the same options and seed
	// Chains plants credential chains too (a sign-in without MFA, two role
	// hops into the next account, a key created there and the last key
	// used again from elsewhere), as often as each other incident, with
	// their sessions in sessions-truth.jsonl and their lineage findings.
	Chains bool
}

// Planted is one planted incident: the finding a detection rule must produce.
type Planted struct {
	RuleID    string   `json:"rule_id"`
	Actor     string   `json:"actor"`
	AccountID string   `json:"account_id"`
	SourceIP  string   `json:"source_ip"`
	EventIDs  []string `json:"event_ids"`
}

// Summary describes what Generate wrote. Bytes is the total size of the
// .json.gz files on disk (ground-truth.jsonl not included).
type Summary struct {
	Files    int
	Events   int
	Bytes    int64
	Planted  []Planted
	Sessions []PlantedSession // of the planted chains (Options.Chains)
}

// groundTruthFile is the name, inside Out, of the JSON-lines list of planted
// findings (one Planted per line).
const groundTruthFile = "ground-truth.jsonl"

const slotSeconds = 300 // CloudTrail delivers about every 5 minutes

func withDefaults(o Options) Options {
	if o.Accounts == 0 {
		o.Accounts = 2
	}
	if o.Regions == 0 {
		o.Regions = 3
	}
	if o.Days == 0 {
		o.Days = 7
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	o.Start = o.Start.UTC().Truncate(time.Second)
	return o
}

func validate(o Options) error {
	switch {
	case o.Out == "":
		return errors.New("samples: Options.Out is required")
	case o.Events < 0:
		return errors.New("samples: Options.Events must not be negative")
	case o.Accounts < 1 || o.Accounts > 1000:
		return fmt.Errorf("samples: Options.Accounts %d out of range 1..1000", o.Accounts)
	case o.Regions < 1 || o.Regions > len(allRegions):
		return fmt.Errorf("samples: Options.Regions %d out of range 1..%d", o.Regions, len(allRegions))
	case o.Days < 1 || o.Days > 3660:
		return fmt.Errorf("samples: Options.Days %d out of range 1..3660", o.Days)
	}
	return nil
}

// prepareOut creates dir, refusing a non-empty existing one.
func prepareOut(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case err == nil:
		if len(ents) > 0 {
			return fmt.Errorf("samples: output directory %s is not empty", dir)
		}
		return nil
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	default:
		return fmt.Errorf("samples: output directory: %w", err)
	}
}

// weight is the relative activity of one account, region and 5-minute slot:
// busier accounts and us-east-1, office hours on weekdays, noise and the
// occasional burst.
func (w *world) weight(seed uint64, a, ri int, s int64) float64 {
	t := w.start + s*slotSeconds
	day := floorDiv(t, 86400)
	hour := float64(t-day*86400) / 3600
	d := hour - 14
	peak := math.Exp(-d * d / 18)
	diurnal := 1 + 2.2*peak
	if wd := (day + 4) % 7; wd == 0 || wd == 6 { // 1970-01-01 was a Thursday
		diurnal = 1 + 0.3*peak
	}
	h := ct.Mix(seed, 300, uint64(a), uint64(ri), uint64(s))
	u := float64(h>>11) / (1 << 53)
	f := 0.35 + 1.3*u
	if h&1023 < 5 {
		f *= 6
	}
	return diurnal * f * regionWeight(ri) / (1 + 0.6*float64(a))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

type job struct {
	a, ri   int
	s       int64
	part    int // index of the file within a busy slot
	n       int // background events
	planted []plantedEvent
}

// maxPerFile is the most background events written to one file.
const maxPerFile = 2000

// Generate writes a synthetic CloudTrail S3 export under opts.Out,
// Out/ground-truth.jsonl listing the planted incidents and
// Out/sessions-truth.jsonl the planted chains' sessions (empty without
// Options.Chains).
func Generate(opts Options) (Summary, error) {
	opts = withDefaults(opts)
	if err := validate(opts); err != nil {
		return Summary{}, err
	}
	if err := prepareOut(opts.Out); err != nil {
		return Summary{}, err
	}
	seed := uint64(opts.Seed)
	w := newWorld(opts)
	scens := w.plant(opts)

	slots := int64(opts.Days) * 86400 / slotSeconds
	nreg := int64(len(w.regions))
	key := func(a, ri int, s int64) int64 { return (int64(a)*nreg+int64(ri))*slots + s }
	planted := map[int64][]plantedEvent{}
	var sum Summary
	nPlanted := 0
	for _, sc := range scens {
		for _, e := range sc.events {
			s := (e.t - w.start) / slotSeconds
			if s < 0 || s >= slots {
				return Summary{}, fmt.Errorf("samples: internal error: planted event outside the time range")
			}
			k := key(e.acct, 0, s)
			planted[k] = append(planted[k], e)
			nPlanted++
		}
		sum.Planted = append(sum.Planted, sc.findings...)
		sum.Sessions = append(sum.Sessions, sc.sessions...)
	}
	background := max(opts.Events-nPlanted, 0)

	var total float64
	for a := range w.accounts {
		for ri := range w.regions {
			for s := int64(0); s < slots; s++ {
				total += w.weight(seed, a, ri, s)
			}
		}
	}
	scale := 0.0
	if total > 0 {
		scale = float64(background) / total
	}

	jobs := make(chan job, 256)
	var (
		wg       sync.WaitGroup
		files    atomic.Int64
		events   atomic.Int64
		nbytes   atomic.Int64
		failed   atomic.Bool
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		failed.Store(true)
	}
	workers := max(2*runtime.GOMAXPROCS(0), 2)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := newFileWriter(w, opts.Out, seed)
			for j := range jobs {
				if failed.Load() {
					continue
				}
				n, size, err := fw.write(j)
				if err != nil {
					fail(err)
					continue
				}
				files.Add(1)
				events.Add(int64(n))
				nbytes.Add(size)
			}
		}()
	}

	// Systematic rounding spreads exactly `background` events over the
	// slots in proportion to their weights; the last slot takes whatever
	// floating-point error left over.
	cum := 0.0
	emitted := 0
	lastA, lastR := len(w.accounts)-1, len(w.regions)-1
	for a := range w.accounts {
		for ri := range w.regions {
			for s := int64(0); s < slots; s++ {
				prev := math.Floor(cum)
				cum += w.weight(seed, a, ri, s) * scale
				n := int(math.Floor(cum) - prev)
				if a == lastA && ri == lastR && s == slots-1 {
					n = max(background-emitted, 0)
				}
				emitted += n
				pe := planted[key(a, ri, s)]
				if n == 0 && len(pe) == 0 {
					continue
				}
				if failed.Load() {
					break
				}
				// Busy slots are split over several files, as CloudTrail
				// does, which also bounds the memory a file needs.
				parts := max((n+maxPerFile-1)/maxPerFile, 1)
				for part := 0; part < parts; part++ {
					j := job{a: a, ri: ri, s: s, part: part, n: n / parts}
					if part < n%parts {
						j.n++
					}
					if part == 0 {
						j.planted = pe
					}
					jobs <- j
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return Summary{}, firstErr
	}

	if err := writeJSONLines(filepath.Join(opts.Out, groundTruthFile), sum.Planted); err != nil {
		return Summary{}, err
	}
	if err := writeJSONLines(filepath.Join(opts.Out, sessionsTruthFile), sum.Sessions); err != nil {
		return Summary{}, err
	}
	sum.Files = int(files.Load())
	sum.Events = int(events.Load())
	sum.Bytes = nbytes.Load()
	return sum, nil
}

// writeJSONLines writes one JSON value per line.
func writeJSONLines[T any](path string, vals []T) error {
	var buf bytes.Buffer
	for _, v := range vals {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	return nil
}

// fileWriter renders, compresses and writes files; one per worker.
type fileWriter struct {
	g    *gen
	out  string
	seed uint64
	json []byte
	gz   bytes.Buffer
	zw   *gzip.Writer
}

func newFileWriter(w *world, out string, seed uint64) *fileWriter {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return &fileWriter{g: &gen{w: w, seed: seed}, out: out, seed: seed, zw: zw}
}

func (fw *fileWriter) write(j job) (int, int64, error) {
	g := fw.g
	a := g.w.accounts[j.a]
	slotStart := g.w.start + j.s*slotSeconds
	r := ct.NewRand(ct.Mix(fw.seed, 1, uint64(j.a), uint64(j.ri), uint64(j.s), uint64(j.part)), ct.Mix(fw.seed, 2, uint64(j.a), uint64(j.ri), uint64(j.s), uint64(j.part)))
	g.reset(a, j.ri, slotStart, r)
	g.fill(j.n)
	for _, pe := range j.planted {
		g.emitRaw(pe.t, pe.raw)
	}
	n := len(g.recs)
	fw.json = g.appendRecords(fw.json[:0])

	// Named after the delivery time, the end of the 5-minute slot.
	delivered := time.Unix(slotStart+slotSeconds, 0).UTC()
	region := g.region
	dir := filepath.Join(fw.out, "AWSLogs", a.id, "CloudTrail", region, delivered.Format("2006"), delivered.Format("01"), delivered.Format("02"))
	name := a.id + "_CloudTrail_" + region + "_" + delivered.Format("20060102T1504Z") + "_" + ct.Alnum(r, 16) + ".json.gz"

	fw.gz.Reset()
	fw.zw.Reset(&fw.gz)
	if _, err := fw.zw.Write(fw.json); err != nil {
		return 0, 0, err
	}
	if err := fw.zw.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("samples: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), fw.gz.Bytes(), 0o644); err != nil {
		return 0, 0, fmt.Errorf("samples: %w", err)
	}
	return n, int64(fw.gz.Len()), nil
}
