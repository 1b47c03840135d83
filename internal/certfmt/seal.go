package certfmt

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Sealed private keys.
//
// SealPrivateKey writes a PKCS#8 key encrypted with a passphrase as one PEM
// block of type "EDGECERT SEALED PRIVATE KEY" whose headers carry every
// parameter needed to open it:
//
//	-----BEGIN EDGECERT SEALED PRIVATE KEY-----
//	Version: 1
//	KDF: scrypt
//	KDF-Params: N=32768,r=8,p=1
//	Salt: <Base64, 16 bytes>
//	Cipher: AES-256-GCM
//	Nonce: <Base64, 12 bytes>
//
//	<Base64 of the GCM ciphertext and tag of the PKCS#8 DER>
//	-----END EDGECERT SEALED PRIVATE KEY-----
//
// The 32-byte AES key is scrypt(passphrase, salt, N, r, p). The additional
// authenticated data is the header lines above joined by "\n" in that order,
// so a changed parameter makes the key fail to open rather than decrypt with
// weaker settings. A wrong passphrase and tampering both fail GCM
// authentication and wrap ErrWrongPassword.

const (
	sealedPEMType = "EDGECERT SEALED PRIVATE KEY"
	sealVersion   = "1"
	sealKDF       = "scrypt"
	sealCipher    = "AES-256-GCM"
	sealN         = 1 << 15
	sealR         = 8
	sealP         = 1
	// Upper bounds accepted when opening, so that a crafted file cannot ask
	// for gigabytes of memory.
	maxSealN = 1 << 17
	maxSealR = 8
	maxSealP = 4
)

// SealPrivateKey encrypts a PKCS#8 key with a passphrase (scrypt KDF,
// AES-256-GCM) and returns a PEM block; the format is described above.
func SealPrivateKey(rand interface{ Read([]byte) (int, error) }, key crypto.Signer, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("certfmt: sealing a key needs a non-empty passphrase")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certfmt: marshalling private key: %w", err)
	}
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	if err := readFull(rand, salt); err != nil {
		return nil, err
	}
	if err := readFull(rand, nonce); err != nil {
		return nil, err
	}
	headers := map[string]string{
		"Version":    sealVersion,
		"KDF":        sealKDF,
		"KDF-Params": fmt.Sprintf("N=%d,r=%d,p=%d", sealN, sealR, sealP),
		"Salt":       base64.StdEncoding.EncodeToString(salt),
		"Cipher":     sealCipher,
		"Nonce":      base64.StdEncoding.EncodeToString(nonce),
	}
	aead, err := sealAEAD(passphrase, salt, sealN, sealR, sealP)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, der, sealAAD(headers))
	return pem.EncodeToMemory(&pem.Block{Type: sealedPEMType, Headers: headers, Bytes: ct}), nil
}

// OpenPrivateKey decodes a key written by SealPrivateKey (or, when the PEM
// is not sealed, any key ParsePrivateKey reads). A wrong passphrase wraps
// ErrWrongPassword.
func OpenPrivateKey(data []byte, passphrase []byte) (crypto.Signer, error) {
	if !IsSealed(data) {
		return ParsePrivateKey(data)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("certfmt: sealed key: %w", err)
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("certfmt: sealed key: %d PEM blocks, want 1: %w", len(blocks), ErrMalformed)
	}
	b := blocks[0]
	h := b.Headers
	if h["Version"] != sealVersion || h["KDF"] != sealKDF || h["Cipher"] != sealCipher {
		return nil, fmt.Errorf("certfmt: sealed key version %q, KDF %q, cipher %q: %w", h["Version"], h["KDF"], h["Cipher"], ErrUnsupported)
	}
	n, r, p, err := parseScryptParams(h["KDF-Params"])
	if err != nil {
		return nil, err
	}
	salt, err1 := base64.StdEncoding.DecodeString(h["Salt"])
	nonce, err2 := base64.StdEncoding.DecodeString(h["Nonce"])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(nonce) != 12 {
		return nil, fmt.Errorf("certfmt: sealed key: bad Salt or Nonce header: %w", ErrMalformed)
	}
	aead, err := sealAEAD(passphrase, salt, n, r, p)
	if err != nil {
		return nil, err
	}
	der, err := aead.Open(nil, nonce, b.Bytes, sealAAD(h))
	if err != nil {
		return nil, fmt.Errorf("certfmt: opening sealed key: %w", ErrWrongPassword)
	}
	key, err := parsePrivateKeyDER(der)
	if err != nil {
		return nil, fmt.Errorf("certfmt: sealed key content: %w", err)
	}
	return key, nil
}

// IsSealed reports whether data is a sealed private key.
func IsSealed(data []byte) bool {
	block, _ := pem.Decode(data)
	return block != nil && block.Type == sealedPEMType
}

// sealAAD is the authenticated header text.
func sealAAD(h map[string]string) []byte {
	var sb strings.Builder
	for _, k := range []string{"Version", "KDF", "KDF-Params", "Salt", "Cipher", "Nonce"} {
		sb.WriteString(k + ": " + h[k] + "\n")
	}
	return []byte(sb.String())
}

// sealAEAD derives the AES-256-GCM cipher from the passphrase.
func sealAEAD(passphrase, salt []byte, n, r, p int) (cipher.AEAD, error) {
	k, err := scrypt.Key(passphrase, salt, n, r, p, 32)
	if err != nil {
		return nil, fmt.Errorf("certfmt: scrypt: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parseScryptParams parses "N=…,r=…,p=…" within the accepted bounds.
func parseScryptParams(s string) (n, r, p int, err error) {
	vals := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		x, perr := strconv.Atoi(v)
		if !ok || perr != nil {
			return 0, 0, 0, fmt.Errorf("certfmt: sealed key: bad KDF-Params %q: %w", s, ErrMalformed)
		}
		vals[k] = x
	}
	n, r, p = vals["N"], vals["r"], vals["p"]
	if n < 2 || n > maxSealN || n&(n-1) != 0 || r < 1 || r > maxSealR || p < 1 || p > maxSealP {
		return 0, 0, 0, fmt.Errorf("certfmt: sealed key: KDF-Params %q out of range: %w", s, ErrUnsupported)
	}
	return n, r, p, nil
}

// readFull fills b from rand.
func readFull(rand interface{ Read([]byte) (int, error) }, b []byte) error {
	for off := 0; off < len(b); {
		n, err := rand.Read(b[off:])
		if err != nil {
			return fmt.Errorf("certfmt: reading randomness: %w", err)
		}
		off += n
	}
	return nil
}

// Passphrase verifiers.
//
// NewPassphraseVerifier returns a string from which CheckPassphrase can
// tell whether a passphrase is the one it was made from, without holding
// anything sealed with it: "scrypt N=…,r=…,p=… <Base64 salt> <Base64
// SHA-256 of the 32-byte scrypt output>". The scrypt parameters are those
// of sealed keys, so guessing the passphrase from a verifier costs as much
// as from a sealed key.
func NewPassphraseVerifier(rand interface{ Read([]byte) (int, error) }, passphrase []byte) (string, error) {
	if len(passphrase) == 0 {
		return "", fmt.Errorf("certfmt: a passphrase verifier needs a non-empty passphrase")
	}
	salt := make([]byte, 16)
	if err := readFull(rand, salt); err != nil {
		return "", err
	}
	params := fmt.Sprintf("N=%d,r=%d,p=%d", sealN, sealR, sealP)
	sum, err := verifierSum(passphrase, salt, sealN, sealR, sealP)
	if err != nil {
		return "", err
	}
	return sealKDF + " " + params + " " + base64.StdEncoding.EncodeToString(salt) + " " + base64.StdEncoding.EncodeToString(sum), nil
}

// CheckPassphrase reports whether passphrase is the one verifier was made
// from: nil, an error wrapping ErrWrongPassword, or ErrMalformed for a
// verifier it cannot read.
func CheckPassphrase(verifier string, passphrase []byte) error {
	f := strings.Fields(verifier)
	if len(f) != 4 || f[0] != sealKDF {
		return fmt.Errorf("certfmt: passphrase verifier: %w", ErrMalformed)
	}
	n, r, p, err := parseScryptParams(f[1])
	if err != nil {
		return err
	}
	salt, err1 := base64.StdEncoding.DecodeString(f[2])
	want, err2 := base64.StdEncoding.DecodeString(f[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) != sha256.Size {
		return fmt.Errorf("certfmt: passphrase verifier: %w", ErrMalformed)
	}
	got, err := verifierSum(passphrase, salt, n, r, p)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("certfmt: passphrase: %w", ErrWrongPassword)
	}
	return nil
}

// verifierSum is SHA-256 of scrypt(passphrase, salt).
func verifierSum(passphrase, salt []byte, n, r, p int) ([]byte, error) {
	k, err := scrypt.Key(passphrase, salt, n, r, p, 32)
	if err != nil {
		return nil, fmt.Errorf("certfmt: scrypt: %w", err)
	}
	sum := sha256.Sum256(k)
	return sum[:], nil
}
