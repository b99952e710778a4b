package billing

import (
	"strings"

	"golang.org/x/text/currency"
)

// Limits that keep every amount, and every balance, an exact integer in
// Go, in PostgreSQL's bigint and in a JSON reader that uses doubles (below
// 2^53).
const (
	MaxAmount    int64 = 1_000_000_000_000 // one posting, minor units
	MaxUnitPrice int64 = 10_000_000_000
	MaxQuantity  int64 = 10_000
	MaxBalance   int64 = 1_000_000_000_000_000
)

// Currency returns the ISO 4217 code (upper case) and the digits of its
// minor unit, or ok false for a code that is not a currency.
func Currency(code string) (iso string, digits int, ok bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if len(code) != 3 {
		return "", 0, false
	}
	u, err := currency.ParseISO(code)
	// X codes are metals, funds and test codes, not money an account is kept in.
	if err != nil || u.String() != code || code[0] == 'X' {
		return "", 0, false
	}
	scale, _ := currency.Standard.Rounding(u)
	return code, scale, true
}

// MinorUnitDigits is the number of digits of code's minor unit (2 when the
// code is unknown).
func MinorUnitDigits(code string) int {
	if _, d, ok := Currency(code); ok {
		return d
	}
	return 2
}

// addBalance adds amount to balance, or reports that the result would
// leave the range balances are kept in. Balances stay within MaxBalance
// and amounts within MaxAmount, so the sum cannot overflow.
func addBalance(balance, amount int64) (int64, bool) {
	sum := balance + amount
	return sum, sum <= MaxBalance && sum >= -MaxBalance
}
