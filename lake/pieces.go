package lake

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"
)

// A commit's parts are encoded at once, one a core. A bucket's files are
// walked a partition at a time, so most commits hold the events of one
// partition, or of two: encoded as one part each, a commit ran on one
// core while the decoders, their next batch full, waited for it (4 s of
// a 16 s ingest --parquet of the bench corpus). A partition's share of a
// large commit is therefore cut into pieces, each a part of its own, so
// that the cores have about as much to encode each.

// piece is one part a commit writes: rows of one partition, in the order
// the part stores them (sortRows), and which of its partition's pieces
// it is.
type piece struct {
	part  string  // the partition's folder, relative to the dataset
	rows  []int32 // indexes into the batch's rows
	index int     // which of the partition's pieces in this commit
	of    int     // how many there are (1: the share is not cut)
}

// minPieceRows is the fewest rows a piece cut from a partition's share
// holds: each piece is a row group of its own, with its own dictionaries
// and statistics, and a dataset of many small ones reads more slowly.
const minPieceRows = 4096

// cutPieces cuts each partition's rows (parts, already sorted) into
// pieces of about the commit's rows over workers: a share that large or
// larger is cut into as many pieces as it holds shares, rounded, and no
// piece is cut smaller than minPieceRows. The pieces are contiguous runs
// of the sorted rows, so the statistics of each (event source, event
// name, time) stay narrow. The pieces keep the partitions' order.
func cutPieces(parts []piece, workers int) []piece {
	total := 0
	for _, p := range parts {
		total += len(p.rows)
	}
	share := max(1, (total+workers-1)/workers)
	var out []piece
	for _, p := range parts {
		n := len(p.rows)
		k := min((n+share/2)/share, n/minPieceRows)
		if workers < 2 || k < 2 {
			p.index, p.of = 0, 1
			out = append(out, p)
			continue
		}
		for i := range k {
			out = append(out, piece{part: p.part, rows: p.rows[i*n/k : (i+1)*n/k], index: i, of: k})
		}
	}
	return out
}

// name is the piece's file name in its partition: the commit's part name,
// with the piece's number when the partition's share was cut.
func (p piece) name(commit string) string {
	if p.of <= 1 {
		return partName(commit)
	}
	return partName(fmt.Sprintf("%s-%02d", commit, p.index))
}

// largestFirst is the order in which to start the pieces' work, the
// largest first, so that no core is left alone with a large one at the
// end of a commit.
func largestFirst(pieces []piece) []int {
	order := make([]int, len(pieces))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(pieces[b].rows), len(pieces[a].rows)) })
	return order
}

// onWorkers runs work(i) for each i of order, at most workers at a time,
// started in that order, and returns every one's error, by i (an
// errgroup's Wait keeps only the first).
func onWorkers(order []int, workers int, work func(i int) error) []error {
	errs := make([]error, len(order))
	var g errgroup.Group
	g.SetLimit(max(1, workers))
	for _, i := range order {
		g.Go(func() error {
			errs[i] = work(i)
			return nil
		})
	}
	_ = g.Wait() // every error is in errs
	return errs
}
