// Package lake writes and reads trailsift's Parquet datasets: the events of
// a case as hive-partitioned Parquet files that DuckDB, Spark, Trino and
// Athena read directly. It also stages an ingest into a DuckDB store
// (IngestStore): the events are written as a dataset beside the database,
// then handed to the store's own load (query.Store.Load).
//
// What goes in: the events and files ingest.Run produces (Writer is an
// ingest.Sink), or a store's tables (Export). What comes out: a dataset
// directory, read back as a query.Store with the same tables and views as
// a case database (Open), and the Athena DDL that reads it (AthenaDDL).
//
// A dataset directory looks like this:
//
//	account=<id>/region=<r>/date=<YYYY-MM-DD>/part-<run>-<seq>.parquet   events
//	account=<id>/region=<r>/date=<YYYY-MM-DD>/part-<run>-<seq>-<nn>.parquet   events, a piece of a large commit (see cutPieces)
//	_files/part-<run>-<seq>.parquet            the evidence manifest (files table)
//	_ingest_errors/part-<run>-<seq>.parquet    bad input (ingest_errors table)
//	_staging/<run>-<seq>/...                   a commit being written
//	_commits/<run>-<seq>.json                  a commit being moved into place
//
// Names starting with "_" are ignored by Spark, Hive and Athena's
// partition discovery, so work in progress is never read as data.
//
// What always holds: an event is stored once however often it is given
// (its identity is ingest.Identity; an event always lands in the partition
// of its own account, region and day, so that partition is all there is to
// check); a commit is published whole or not at all, so a run killed at any
// point and run again gives exactly the rows of one clean run; one run at a
// time writes a dataset (a lock file); partition names are escaped, so no
// value from a log climbs out of the dataset; memory is bounded by the
// commit size and the key cache, not by the dataset. lake writes only
// Parquet: what goes into a DuckDB store's tables goes through query.
package lake
