"""Users' library imports: each format's parser (mal, goodreads, letterboxd, trakt, omnimediatrak)
turns a file into ImportEntry rows (entry.py); matching.py finds their catalog items; apply.py
merges and writes them in batches; jobs.py keeps each import's progress and its problem rows;
run.py drives a job. docs/import.md describes the formats, the matching rule and the merge policies."""
