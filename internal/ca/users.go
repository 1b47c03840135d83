package ca

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"edgecert/internal/db"
)

// argon2id parameters (RFC 9106 second recommendation, lighter memory).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	tokenPrefix  = "ect_"
)

// hashPassword returns an encoded argon2id hash of password.
func hashPassword(rand io.Reader, password []byte) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", err
	}
	h := argon2.IDKey(password, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(h)), nil
}

// checkPassword reports whether password matches an encoded argon2id hash.
func checkPassword(encoded string, password []byte) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey(password, salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// tokenHash is how tokens are stored: they carry 256 bits of entropy, so
// one SHA-256 is enough.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func validUserName(s string) bool {
	if s == "" || len(s) > 128 || strings.ContainsAny(s, ", \t\r\n:") {
		return false
	}
	return true
}

// UserSpec describes a user for AddUser.
type UserSpec struct {
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	Admin    bool     `json:"admin"`
	Password []byte   `json:"-"` // empty: token-only user
}

// UserInfo is a user as listed.
type UserInfo struct {
	Name        string   `json:"name"`
	Groups      []string `json:"groups"`
	Admin       bool     `json:"admin"`
	HasPassword bool     `json:"has_password"`
	Disabled    bool     `json:"disabled"`
}

// AddUser creates a user (an operator's action on the CA directory).
func (e *Engine) AddUser(ctx context.Context, u UserSpec) error {
	if !validUserName(u.Name) {
		return fmt.Errorf("invalid user name %q (no spaces, commas or colons): %w", u.Name, ErrBadRequest)
	}
	for _, g := range u.Groups {
		if !validUserName(g) {
			return fmt.Errorf("invalid group name %q: %w", g, ErrBadRequest)
		}
	}
	var hash string
	if len(u.Password) > 0 {
		if err := checkPasswordLength(u.Password); err != nil {
			return err
		}
		var err error
		if hash, err = hashPassword(e.rand, u.Password); err != nil {
			return err
		}
	}
	version, err := e.newUserVersion()
	if err != nil {
		return err
	}
	err = e.db.CreateUser(ctx, db.User{Name: u.Name, Groups: u.Groups, Admin: u.Admin, PasswordHash: hash, Created: e.now(), Version: version})
	if errors.Is(err, db.ErrDuplicate) {
		return fmt.Errorf("user %s already exists: %w", u.Name, ErrConflict)
	}
	if err != nil {
		return wrapDB(err)
	}
	return wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "user-add", Subject: u.Name, Result: "ok",
		Detail: fmt.Sprintf("groups=%s admin=%v", strings.Join(u.Groups, ","), u.Admin)}))
}

// Users lists the CA's users.
func (e *Engine) Users(ctx context.Context) ([]UserInfo, error) {
	us, err := e.db.Users(ctx)
	if err != nil {
		return nil, wrapDB(err)
	}
	out := make([]UserInfo, 0, len(us))
	for _, u := range us {
		out = append(out, UserInfo{Name: u.Name, Groups: append([]string{}, u.Groups...), Admin: u.Admin, HasPassword: u.PasswordHash != "", Disabled: u.Disabled})
	}
	return out, nil
}

// NewToken creates an API token for user and returns it; only its hash is stored.
func (e *Engine) NewToken(ctx context.Context, user string) (string, error) {
	if u, err := e.db.User(ctx, user); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return "", fmt.Errorf("user %q %w", user, ErrNotFound)
		}
		return "", wrapDB(err)
	} else if u.Disabled {
		return "", fmt.Errorf("user %s is disabled: %w", user, ErrConflict)
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return "", err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	if err := e.db.AddToken(ctx, tokenHash(tok), user, e.now()); err != nil {
		return "", wrapDB(err)
	}
	return tok, wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "token-create", Subject: user, Result: "ok",
		Detail: "token " + TokenID(tok)}))
}

func principalOf(u *db.User) *Principal {
	return &Principal{Name: u.Name, Groups: append([]string{}, u.Groups...), Admin: u.Admin, Version: u.Version}
}

// Authenticate checks a user's password. It does the same work (one
// argon2id hash with the same parameters) whether the user exists, has a
// password, is disabled or not, so that its time tells nothing about the
// account.
func (e *Engine) Authenticate(ctx context.Context, user string, password []byte) (*Principal, error) {
	u, err := e.db.User(ctx, user)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, wrapDB(err)
	}
	usable := err == nil && u.PasswordHash != "" && !u.Disabled
	hash := dummyHash()
	if usable {
		hash = u.PasswordHash
	}
	e.passwordChecks.Add(1)
	if ok := checkPassword(hash, password); !ok || !usable {
		return nil, fmt.Errorf("unknown user or wrong password: %w", ErrUnauthenticated)
	}
	return principalOf(u), nil
}

// dummyHash is what Authenticate checks a password against when there is
// no usable hash: it has the parameters of every hash hashPassword makes.
// It is built without hashing (a salt and a hash no password gives), so
// that the first such check costs what the others cost.
var dummyHash = sync.OnceValue(func() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(make([]byte, 16)), enc.EncodeToString(make([]byte, argonKeyLen)))
})

// AuthenticateToken checks an API bearer token.
func (e *Engine) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return nil, fmt.Errorf("invalid token: %w", ErrUnauthenticated)
	}
	name, err := e.db.TokenUser(ctx, tokenHash(token))
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("invalid token: %w", ErrUnauthenticated)
	}
	if err != nil {
		return nil, wrapDB(err)
	}
	u, err := e.db.User(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("token of a removed user: %w", ErrUnauthenticated)
	}
	if err != nil {
		return nil, wrapDB(err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("token of a disabled user: %w", ErrUnauthenticated)
	}
	return principalOf(u), nil
}

// PrincipalFor looks a user up without a password, for offline commands run
// by the CA operator (who holds the CA key passphrase): `ca issue --as USER`
// and apply with --ca-dir.
func (e *Engine) PrincipalFor(ctx context.Context, user string) (*Principal, error) {
	u, err := e.db.User(ctx, user)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("no user %q in this CA (add it with 'edgecert ca user add'): %w", user, ErrUnauthenticated)
	}
	if err != nil {
		return nil, wrapDB(err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("user %s is disabled: %w", user, ErrUnauthenticated)
	}
	return principalOf(u), nil
}

// Operator is the local CA operator (who holds the CA directory and its
// passphrase) acting as an administrator in offline commands.
func Operator() *Principal { return &Principal{Name: operatorName(), Admin: true} }
