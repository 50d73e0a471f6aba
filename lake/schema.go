package lake

import (
	"os"

	"github.com/parquet-go/parquet-go"
)

// partSchemas is what the footers of a dataset's event parts say.
type partSchemas struct {
	// same: every part has the same schema. The events view then reads
	// them without DuckDB's union_by_name, which unifies the schemas of
	// every file again for each scan: a seventh of detect --parquet on the
	// bench corpus. A dataset written by several trailsift versions, or a
	// file that cannot be read here, keeps union_by_name.
	same bool
	// columns counts the parts that have each top-level column; parts is
	// how many were read (0 when one could not be).
	columns map[string]int
	parts   int
	// rawChecked counts the parts whose writer checked every raw
	// (rawCheckedKey).
	rawChecked int
}

// readPartSchemas reads the footers of files.
func readPartSchemas(files []string) partSchemas {
	ps := partSchemas{same: len(files) > 0, columns: map[string]int{}}
	var first string
	for i, name := range files {
		schema, checked, err := fileSchema(name)
		if err != nil {
			return partSchemas{}
		}
		if checked {
			ps.rawChecked++
		}
		if i == 0 {
			first = schema.String()
		} else if ps.same && schema.String() != first {
			ps.same = false
		}
		for _, f := range schema.Fields() {
			ps.columns[f.Name()]++
		}
	}
	ps.parts = len(files)
	return ps
}

// has says in how many parts column is: "all", "some" or "none". When the
// footers could not be read it says "some", which reads the column where
// it is and fills it in where it is not.
func (ps partSchemas) has(column string) string {
	switch n := ps.columns[column]; {
	case ps.parts == 0:
		return "some"
	case n == ps.parts:
		return "all"
	case n == 0:
		return "none"
	}
	return "some"
}

// fileSchema reads the schema of the Parquet file name, and whether its
// writer checked its raw (rawCheckedKey).
func fileSchema(name string) (schema *parquet.Schema, rawChecked bool, err error) {
	err = readFooter(name, func(pf *parquet.File) {
		v, _ := pf.Lookup(rawCheckedKey)
		schema, rawChecked = pf.Schema(), v == "true"
	})
	return schema, rawChecked, err
}

// partRows is the number of rows its footer gives a part file; 0 when it
// cannot be read (the load that reads it then reports why).
func partRows(name string) (rows int64) {
	_ = readFooter(name, func(pf *parquet.File) { rows = pf.NumRows() })
	return rows
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
