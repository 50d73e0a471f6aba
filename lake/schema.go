package lake

import (
	"os"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// partSchemas is what the footers of a dataset's event parts say, one
// footer per part, in order, each read once: the events view, the staging
// load's check of raw and its slices all read them from here.
type partSchemas struct {
	// footers is nil when a footer could not be read: the events view then
	// keeps union_by_name and reads issued_credential where it is, and a
	// staging is checked and loaded in one slice (the load reports why).
	footers []partFooter
}

// partFooter is what one part's footer says.
type partFooter struct {
	schema     string   // the whole schema, printed, to compare parts
	columns    []string // top-level columns
	rawChecked bool     // its writer checked every raw (rawCheckedKey)
	rows       int64
}

// readPartSchemas reads the footers of files.
func readPartSchemas(files []string) partSchemas {
	footers := make([]partFooter, len(files))
	for i, name := range files {
		err := readFooter(name, func(pf *parquet.File) {
			schema := pf.Schema()
			v, _ := pf.Lookup(rawCheckedKey)
			footers[i] = partFooter{schema: schema.String(), rawChecked: v == "true", rows: pf.NumRows()}
			for _, f := range schema.Fields() {
				footers[i].columns = append(footers[i].columns, f.Name())
			}
		})
		if err != nil {
			return partSchemas{}
		}
	}
	return partSchemas{footers: footers}
}

// part is the footers of parts i to j-1.
func (ps partSchemas) part(i, j int) partSchemas {
	if ps.footers == nil {
		return ps
	}
	return partSchemas{footers: ps.footers[i:j]}
}

// pick is the footers of the parts at idx.
func (ps partSchemas) pick(idx []int) partSchemas {
	if ps.footers == nil {
		return ps
	}
	footers := make([]partFooter, len(idx))
	for k, i := range idx {
		footers[k] = ps.footers[i]
	}
	return partSchemas{footers: footers}
}

// same says every part has the same schema. The events view then reads
// them without DuckDB's union_by_name, which unifies the schemas of every
// file again for each scan: a seventh of detect --parquet on the bench
// corpus. A dataset written by several trailsift versions, or a file that
// cannot be read here, keeps union_by_name.
func (ps partSchemas) same() bool {
	for _, f := range ps.footers {
		if f.schema != ps.footers[0].schema {
			return false
		}
	}
	return len(ps.footers) > 0
}

// has says in how many parts column is: "all", "some" or "none". When the
// footers could not be read it says "some", which reads the column where
// it is and fills it in where it is not.
func (ps partSchemas) has(column string) string {
	n := 0
	for _, f := range ps.footers {
		if slices.Contains(f.columns, column) {
			n++
		}
	}
	switch {
	case len(ps.footers) == 0:
		return "some"
	case n == len(ps.footers):
		return "all"
	case n == 0:
		return "none"
	}
	return "some"
}

// rawChecked says every part's writer checked its raw (rawCheckedKey).
func (ps partSchemas) rawChecked() bool {
	for _, f := range ps.footers {
		if !f.rawChecked {
			return false
		}
	}
	return len(ps.footers) > 0
}

// readFooter opens the Parquet file name, reading its footer only, for read.
func readFooter(name string, read func(*parquet.File)) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return err
	}
	read(pf)
	return nil
}
