package redisrule

// IsRunID reports whether s has the form of a Redis or Sentinel run id: 40
// hexadecimal digits (either case, since peers may write them upper-cased).
func IsRunID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}
