package certfmt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Password-based encryption of PFX contents and keys. Reading supports the
// PKCS#12 PBE schemes with 3DES (3-key, 2-key) and RC2 (40, 128 bits), and
// PBES2 with PBKDF2 (HMAC-SHA1/256/384/512) and AES-CBC or DES-EDE3-CBC.
// Writing uses PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC (PFXModern) or
// pbeWithSHAAnd3-KeyTripleDES-CBC (PFXLegacy).

// maxIterations bounds the KDF work a file may ask for (real files use
// 2000 to 600000); more is refused as unsupported rather than computed.
const maxIterations = 1 << 21

// errDecrypt is a decryption failure: bad padding after CBC decryption,
// which is what a wrong password gives.
var errDecrypt = errors.New("decryption failed")

// passwords holds a password in both encodings a PFX uses.
type passwords struct {
	bmp  []byte // PKCS#12 KDF (legacy PBE, MAC)
	utf8 []byte // PBKDF2 (PBES2, PBMAC1)
}

func newPasswords(pw string) passwords {
	return passwords{bmp: bmpPassword(pw), utf8: []byte(pw)}
}

// decryptPBE decrypts data encrypted with the scheme alg.
func decryptPBE(alg pkix.AlgorithmIdentifier, pw passwords, data []byte) ([]byte, error) {
	block, iv, err := pbeCipher(alg, pw)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("%w: encrypted data of %d bytes is not a whole number of blocks", ErrMalformed, len(data))
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	n := int(out[len(out)-1])
	if n == 0 || n > block.BlockSize() {
		return nil, errDecrypt
	}
	for _, b := range out[len(out)-n:] {
		if int(b) != n {
			return nil, errDecrypt
		}
	}
	return out[:len(out)-n], nil
}

// pbeCipher returns the block cipher and IV of a PBE algorithm identifier.
func pbeCipher(alg pkix.AlgorithmIdentifier, pw passwords) (cipher.Block, []byte, error) {
	oid := alg.Algorithm
	if oid.Equal(oidPBES2) {
		return pbes2Cipher(alg.Parameters.FullBytes, pw)
	}
	var p pbeParams
	if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
		return nil, nil, fmt.Errorf("%w: PBE parameters: %w", ErrMalformed, err)
	}
	if p.Iterations < 1 || p.Iterations > maxIterations {
		return nil, nil, fmt.Errorf("%w: PBE iteration count %d", ErrUnsupported, p.Iterations)
	}
	derive := func(id byte, n int) []byte { return pkcs12KDF(sha1.New, pw.bmp, p.Salt, id, p.Iterations, n) }
	var block cipher.Block
	var err error
	switch {
	case oid.Equal(oidPBEWithSHAAnd3KeyTDES):
		block, err = des.NewTripleDESCipher(derive(kdfKey, 24))
	case oid.Equal(oidPBEWithSHAAnd2KeyTDES):
		k := derive(kdfKey, 16)
		block, err = des.NewTripleDESCipher(append(k, k[:8]...))
	case oid.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		block, err = newRC2(derive(kdfKey, 5), 40)
	case oid.Equal(oidPBEWithSHAAnd128BitRC2):
		block, err = newRC2(derive(kdfKey, 16), 128)
	default:
		return nil, nil, fmt.Errorf("%w: encryption algorithm %v", ErrUnsupported, oid)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return block, derive(kdfIV, block.BlockSize()), nil
}

// pbes2Cipher handles PBES2 with PBKDF2 (RFC 8018).
func pbes2Cipher(params []byte, pw passwords) (cipher.Block, []byte, error) {
	var p pbes2Params
	if err := unmarshalAll(params, &p); err != nil {
		return nil, nil, fmt.Errorf("%w: PBES2 parameters: %w", ErrMalformed, err)
	}
	var iv []byte
	if err := unmarshalAll(p.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, nil, fmt.Errorf("%w: PBES2 IV: %w", ErrMalformed, err)
	}
	var keyLen int
	var newBlock func([]byte) (cipher.Block, error)
	switch s := p.EncryptionScheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, newBlock = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, newBlock = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newBlock = 32, aes.NewCipher
	case s.Equal(oidDESEDE3):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	default:
		return nil, nil, fmt.Errorf("%w: PBES2 cipher %v", ErrUnsupported, s)
	}
	key, err := pbkdf2Key(p.KeyDerivationFunc, pw.utf8, keyLen)
	if err != nil {
		return nil, nil, err
	}
	block, err := newBlock(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(iv) != block.BlockSize() {
		return nil, nil, fmt.Errorf("%w: PBES2 IV of %d bytes", ErrMalformed, len(iv))
	}
	return block, iv, nil
}

// pbkdf2Key derives keyLen bytes with the PBKDF2 algorithm identifier kdf.
func pbkdf2Key(kdf pkix.AlgorithmIdentifier, password []byte, keyLen int) ([]byte, error) {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: key derivation %v", ErrUnsupported, kdf.Algorithm)
	}
	var p pbkdf2Params
	if err := unmarshalAll(kdf.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("%w: PBKDF2 parameters: %w", ErrMalformed, err)
	}
	if p.IterationCount < 1 || p.IterationCount > maxIterations {
		return nil, fmt.Errorf("%w: PBKDF2 iteration count %d", ErrUnsupported, p.IterationCount)
	}
	if p.KeyLength != 0 && p.KeyLength != keyLen {
		return nil, fmt.Errorf("%w: PBKDF2 key length %d, cipher needs %d", ErrMalformed, p.KeyLength, keyLen)
	}
	prf, ok := hmacHash(p.PRF.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: PBKDF2 PRF %v", ErrUnsupported, p.PRF.Algorithm)
	}
	key, err := pbkdf2.Key(prf, string(password), p.Salt, p.IterationCount, keyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: pbkdf2: %w", ErrUnsupported, err)
	}
	return key, nil
}

// encryptPBE encrypts data with the profile's scheme and returns the
// algorithm identifier to store next to it.
func encryptPBE(rand randReader, profile PFXProfile, pw passwords, data []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	var alg pkix.AlgorithmIdentifier
	var err error
	switch profile {
	case PFXModern:
		alg, err = newPBES2Params(rand)
	case PFXLegacy:
		alg, err = newLegacyPBEParams(rand)
	default:
		return alg, nil, fmt.Errorf("certfmt: unknown PFX profile %d", profile)
	}
	if err != nil {
		return alg, nil, err
	}
	block, iv, err := pbeCipher(alg, pw)
	if err != nil {
		return alg, nil, err
	}
	n := block.BlockSize() - len(data)%block.BlockSize()
	padded := append(append([]byte{}, data...), bytesOf(byte(n), n)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
	return alg, padded, nil
}

// newPBES2Params makes PBES2 parameters: PBKDF2-HMAC-SHA256 with a fresh
// salt and AES-256-CBC with a fresh IV, as OpenSSL 3 writes them.
func newPBES2Params(rand randReader) (pkix.AlgorithmIdentifier, error) {
	salt, iv := make([]byte, pbes2SaltLen), make([]byte, aes.BlockSize)
	if err := readFull(rand, salt); err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	if err := readFull(rand, iv); err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	kdf, err := asn1.Marshal(pbkdf2Params{
		Salt: salt, IterationCount: pfxIterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	ivDER, _ := asn1.Marshal(iv)
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}, nil
}

// newLegacyPBEParams makes pbeWithSHAAnd3-KeyTripleDES-CBC parameters.
func newLegacyPBEParams(rand randReader) (pkix.AlgorithmIdentifier, error) {
	salt := make([]byte, legacySaltLen)
	if err := readFull(rand, salt); err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	params, err := asn1.Marshal(pbeParams{Salt: salt, Iterations: pfxIterations})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHAAnd3KeyTDES, Parameters: asn1.RawValue{FullBytes: params}}, nil
}

// bytesOf returns n copies of b.
func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// unmarshalAll decodes DER into v and refuses trailing data.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes of trailing data", len(rest))
	}
	return nil
}
