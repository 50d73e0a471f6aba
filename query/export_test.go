package query

// UpdateGolden is the -update flag, for the tests of package query_test.
var UpdateGolden = update
