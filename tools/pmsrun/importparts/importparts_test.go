package importparts

import "testing"

func TestSize(t *testing.T) {
	for _, c := range []struct{ lines, max, parallel, want int }{
		{900_000, 100_000, 2, 90_000},    // ten parts, two at a time
		{1_000_000, 100_000, 2, 100_000}, // already even
		{100_000, 100_000, 2, 100_000},   // one part: nothing to pair it with
		{150_000, 100_000, 2, 75_000},    // two halves, not 100,000 and 50,000
		{250_001, 100_000, 2, 62_501},    // four parts
		{999, 100_000, 2, 100_000},
		{10, 3, 1, 3},
		{0, 100_000, 2, 100_000},
		{700_000, 100_000, 3, 77_778}, // nine parts, three at a time
	} {
		got := Size(c.lines, c.max, c.parallel)
		if got != c.want {
			t.Errorf("Size(%d, %d, %d) = %d, want %d", c.lines, c.max, c.parallel, got, c.want)
		}
		if got > c.max {
			t.Errorf("Size(%d, %d, %d) = %d, over the maximum", c.lines, c.max, c.parallel, got)
		}
	}
}
