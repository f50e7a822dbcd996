package sentinel

// globMatch matches s against a Redis-style glob pattern (stringmatchlen):
// '*', '?', '[...]' with ranges and '^' negation, and '\' escapes. Unlike
// path.Match, '*' also matches '/'.
func globMatch(pattern, s string, nocase bool) bool {
	lower := func(c byte) byte {
		if nocase && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	// Iterative matcher with single-star backtracking.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if np, ok := matchClass(pattern, p, s[i], lower); np > 0 {
					if ok {
						p = np
						i++
						continue
					}
				} else if lower(pattern[p]) == lower(s[i]) {
					p++
					i++
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if lower(pattern[p+1]) == lower(s[i]) {
						p += 2
						i++
						continue
					}
				} else if s[i] == '\\' {
					p++
					i++
					continue
				}
			default:
				if lower(pattern[p]) == lower(s[i]) {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the class starting at pattern[p] == '['. It
// returns the index after the class (0 if the class is unterminated, in
// which case '[' is literal) and whether c matched.
func matchClass(pattern string, p int, c byte, lower func(byte) byte) (int, bool) {
	j := p + 1
	neg := false
	if j < len(pattern) && pattern[j] == '^' {
		neg = true
		j++
	}
	matched := false
	for j < len(pattern) && pattern[j] != ']' {
		if pattern[j] == '\\' && j+1 < len(pattern) {
			if lower(pattern[j+1]) == lower(c) {
				matched = true
			}
			j += 2
			continue
		}
		if j+2 < len(pattern) && pattern[j+1] == '-' && pattern[j+2] != ']' {
			lo, hi := lower(pattern[j]), lower(pattern[j+2])
			if lo > hi {
				lo, hi = hi, lo
			}
			if lc := lower(c); lc >= lo && lc <= hi {
				matched = true
			}
			j += 3
			continue
		}
		if lower(pattern[j]) == lower(c) {
			matched = true
		}
		j++
	}
	if j >= len(pattern) {
		return 0, false
	}
	return j + 1, matched != neg
}
