package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/trailsift/trailsift/ingest"
)

// progressLine shows ingest progress on a terminal: a byte bar with rate
// and ETA, and the files and events done so far.
type progressLine struct {
	bar  *progressbar.ProgressBar
	last time.Time
}

func newProgressLine(w io.Writer) *progressLine {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
	return &progressLine{bar: bar}
}

func (p *progressLine) update(pr ingest.Progress) {
	if time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	// Until the folders are listed, the total is not known: no percentage.
	if !pr.Listing && pr.TotalBytes > 0 && p.bar.GetMax64() != pr.TotalBytes {
		p.bar.ChangeMax64(pr.TotalBytes)
	}
	desc := fmt.Sprintf("%d files, %d events", pr.Files, pr.Events)
	switch {
	case pr.Listing:
		desc += ", listing folders"
	case pr.TotalEstimated:
		desc += ", total size estimated"
	}
	p.bar.Describe(desc)
	p.bar.Set64(pr.Bytes)
}

func (p *progressLine) done() {
	p.bar.Finish()
}
