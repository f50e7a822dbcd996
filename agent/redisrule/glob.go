package redisrule

// Match reports whether s matches the glob pattern as Redis matches channel
// names, keys and SENTINEL RESET patterns (case-sensitive).
func Match(pattern, s string) bool { return match(pattern, s, false) }

// MatchFold is Match ignoring ASCII case, as CONFIG GET and COMMAND LIST
// FILTERBY PATTERN match.
func MatchFold(pattern, s string) bool { return match(pattern, s, true) }

// maxStars is how many '*' a pattern may hold before it matches nothing.
// Redis's matcher gives up below a nesting depth of stars (the fix for
// CVE-2024-31228, in the Debian build of 7.0.15); matching it keeps answers
// equal and bounds the cost of a hostile pattern.
const maxStars = 1000

// match implements Redis's glob rules, including their corners:
//
//   - '*' matches any run of bytes and '?' any one byte, but only where the
//     string is not empty: an empty string matches only an empty pattern;
//   - '[...]' is a class with '^' negation, a-z ranges (either order) and
//     \-escapes; a class left open runs to the end of the pattern ("[abc"
//     matches "a"); a range's upper end may be ']', which then does not close
//     the class;
//   - '\c' matches c; a lone '\' at the end matches '\';
//   - with fold, letters and range ends compare lower-cased, but an escaped
//     byte inside a class compares exactly.
//
// It backtracks only to the last '*' (a later star can stand in for any
// longer match of an earlier one), so its cost is O(len(pattern)*len(s)).
func match(p, s string, fold bool) bool {
	if s == "" {
		return p == ""
	}
	pi, si := 0, 0
	stars := 0                      // runs of '*' in p[:pi]
	starP, starS, starN := -1, 0, 0 // where to resume after the last '*'
	for si < len(s) {
		if pi < len(p) && p[pi] == '*' {
			for pi < len(p) && p[pi] == '*' {
				pi++
			}
			stars++
			if pi == len(p) {
				return true
			}
			if stars > maxStars {
				return false
			}
			starP, starS, starN = pi, si, stars
			continue
		}
		if pi < len(p) {
			if n, ok := matchOne(p[pi:], s[si], fold); ok {
				pi += n
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si, stars = starP, starS, starN
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchOne matches the pattern element (not '*') at the start of p against
// c and returns the element's length.
func matchOne(p string, c byte, fold bool) (int, bool) {
	switch p[0] {
	case '?':
		return 1, true
	case '[':
		return matchClass(p, c, fold)
	case '\\':
		if len(p) >= 2 {
			return 2, equal(p[1], c, fold)
		}
	}
	return 1, equal(p[0], c, fold)
}

// matchClass matches c against the class at the start of p (p[0] == '[').
func matchClass(p string, c byte, fold bool) (int, bool) {
	i := 1
	not := i < len(p) && p[i] == '^'
	if not {
		i++
	}
	matched := false
	for i < len(p) && p[i] != ']' {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			matched = matched || p[i+1] == c
			i += 2
		case i+2 < len(p) && p[i+1] == '-':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			cc := c
			if fold {
				lo, hi, cc = lower(lo), lower(hi), lower(c)
			}
			matched = matched || (lo <= cc && cc <= hi)
			i += 3
		default:
			matched = matched || equal(p[i], c, fold)
			i++
		}
	}
	if i < len(p) {
		i++ // the ']'
	}
	return i, matched != not
}

func equal(a, b byte, fold bool) bool {
	if fold {
		return lower(a) == lower(b)
	}
	return a == b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
