// Package importparts sizes the parts a large import is sent in.
package importparts

// Size is the part size that splits lines into parts of at most limit
// lines, as many parts as a multiple of parallel (the imports the server
// runs side by side) when there are at least that many, and all of one
// size but the last: a last part left to run alone would keep only one of
// the server's import workers busy. 900,000 lines in parts of at most
// 100,000, two at once, go as ten parts of 90,000, not nine of 100,000.
func Size(lines, limit, parallel int) int {
	if lines <= 0 || limit <= 0 {
		return limit
	}
	parallel = max(parallel, 1)
	parts := (lines + limit - 1) / limit
	if parts < parallel {
		return limit
	}
	parts = (parts + parallel - 1) / parallel * parallel
	return (lines + parts - 1) / parts
}
