//go:build linux && cgo

package query

/*
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

// jemalloc's control interface, as DuckDB links it (with its duckdb_je_
// prefix). Weak: a DuckDB built without jemalloc (Linux on arm64) leaves
// it NULL, and nothing is changed.
extern int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) __attribute__((weak));

static int jemalloc_linked(void) { return duckdb_je_mallctl != NULL; }

static unsigned jemalloc_arenas(void) {
	unsigned n = 0;
	size_t len = sizeof(n);
	if (duckdb_je_mallctl("arenas.narenas", &n, &len, NULL, 0) != 0) return 0;
	return n;
}

// jemalloc_decay reads (get) or sets (set) a decay time in ms: of arena i,
// or, for i < 0, the default of arenas made later. -1 is "never".
static int jemalloc_decay(int i, const char *kind, ssize_t *get, ssize_t set, int setting) {
	char name[64];
	if (i < 0) snprintf(name, sizeof name, "arenas.%s_decay_ms", kind);
	else snprintf(name, sizeof name, "arena.%d.%s_decay_ms", i, kind);
	size_t len = sizeof(ssize_t);
	return duckdb_je_mallctl(name, get, get ? &len : NULL, setting ? &set : NULL, setting ? sizeof set : 0);
}

static void jemalloc_purge(int i) {
	char name[64];
	snprintf(name, sizeof name, "arena.%d.purge", i);
	duckdb_je_mallctl(name, NULL, NULL, NULL, 0);
}
*/
import "C"

import "unsafe"

// decayKinds are jemalloc's two kinds of freed pages: dirty (still
// mapped) and muzzy (told to the OS it may take them).
var decayKinds = []string{"dirty", "muzzy"}

// keepFreedPages sets jemalloc's decay times to never, for its arenas and
// those it makes later, and returns a restore that purges what was kept
// and sets the defaults back. Without jemalloc it does nothing.
func keepFreedPages() (restore func()) {
	if C.jemalloc_linked() == 0 {
		return func() {}
	}
	kinds := make([]*C.char, len(decayKinds))
	defaults := make([]C.ssize_t, len(decayKinds))
	for k, kind := range decayKinds {
		kinds[k] = C.CString(kind)
		if C.jemalloc_decay(-1, kinds[k], &defaults[k], 0, 0) != 0 {
			freeAll(kinds)
			return func() {} // not the jemalloc this was written for: leave it alone
		}
	}
	setAll := func(decays []C.ssize_t) {
		for k := range kinds {
			C.jemalloc_decay(-1, kinds[k], nil, decays[k], 1)
			for i := range C.jemalloc_arenas() {
				// An arena not yet made refuses it, and takes the default.
				C.jemalloc_decay(C.int(i), kinds[k], nil, decays[k], 1)
			}
		}
	}
	setAll([]C.ssize_t{-1, -1})
	return func() {
		for i := range C.jemalloc_arenas() {
			C.jemalloc_purge(C.int(i))
		}
		setAll(defaults)
		freeAll(kinds)
	}
}

func freeAll(texts []*C.char) {
	for _, t := range texts {
		C.free(unsafe.Pointer(t))
	}
}

// jemallocDecay is the decay time in ms jemalloc gives arenas it makes
// (kind dirty or muzzy), and whether DuckDB links jemalloc: for tests.
func jemallocDecay(kind string) (ms int64, linked bool) {
	if C.jemalloc_linked() == 0 {
		return 0, false
	}
	k := C.CString(kind)
	defer C.free(unsafe.Pointer(k))
	var v C.ssize_t
	if C.jemalloc_decay(-1, k, &v, 0, 0) != 0 {
		return 0, false
	}
	return int64(v), true
}
