package ct

import (
	"math/rand/v2"
)

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base32Key  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base64Std  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	lowerHex   = "0123456789abcdef"
	upperHex   = "0123456789ABCDEF"
)

// NewRand returns a PCG-backed generator for the two seeds.
func NewRand(seed1, seed2 uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed1, seed2))
}

// Mix hashes a list of integers into one well-spread 64-bit value
// (splitmix64 finaliser chained over the inputs).
func Mix(vals ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vals {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h = splitmix(h)
	}
	return h
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// UUID returns a random version-4 UUID string drawn from r.
func UUID(r *rand.Rand) string {
	var b [36]byte
	return string(appendUUID(b[:0], r.Uint64(), r.Uint64()))
}

func appendUUID(dst []byte, hi, lo uint64) []byte {
	var raw [16]byte
	for i := 0; i < 8; i++ {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	raw[6] = raw[6]&0x0f | 0x40
	raw[8] = raw[8]&0x3f | 0x80
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, lowerHex[c>>4], lowerHex[c&0xf])
	}
	return dst
}

func pick(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Alnum returns n random characters from [A-Za-z0-9] (S3 object suffixes).
func Alnum(r *rand.Rand, n int) string { return pick(r, alnum, n) }

// Hex returns n random lower-case hex digits.
func Hex(r *rand.Rand, n int) string { return pick(r, lowerHex, n) }

// Base64 returns n random base64 characters (no padding).
func Base64(r *rand.Rand, n int) string { return pick(r, base64Std, n) }

// TempKeyID returns a temporary (STS) access key id, ASIA....
func TempKeyID(r *rand.Rand) string { return "ASIA" + pick(r, base32Key, 16) }

// LongKeyID returns a long-term access key id, AKIA....
func LongKeyID(r *rand.Rand) string { return "AKIA" + pick(r, base32Key, 16) }

// UserID returns an IAM user unique id, AIDA....
func UserID(r *rand.Rand) string { return "AIDA" + pick(r, base32Key, 17) }

// RoleID returns an IAM role unique id, AROA....
func RoleID(r *rand.Rand) string { return "AROA" + pick(r, base32Key, 17) }

// S3RequestID returns an S3-style request id (16 upper-case alphanumerics).
func S3RequestID(r *rand.Rand) string { return pick(r, upperAlnum, 16) }

// AccountID returns a 12-digit AWS account id with no leading zero.
func AccountID(r *rand.Rand) string {
	b := make([]byte, 12)
	b[0] = byte('1' + r.IntN(9))
	for i := 1; i < 12; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}
