package enroll

import (
	"context"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// newRealCA creates a CA with the real engine (embedded database) in
// t.TempDir, with the users and templates testCA describes.
func newRealCA(t *testing.T) *testCA {
	t.Helper()
	return newRealCAKey(t, "p256", "")
}

// newRealCAKey is newRealCA with a CA key type and a database DSN (empty:
// SQLite in the CA directory).
func newRealCAKey(t testing.TB, key, dsn string) *testCA {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	pass := []byte("test passphrase")
	tc := &testCA{passAdmin: "admin-password-1", passAlice: "alice-password-1", passBob: "bob-password-1", passCar: "carol-password-1"}
	err := ca.Init(ctx, dir, ca.InitOptions{Name: "Contoso Test", Key: key, Passphrase: pass, DSN: dsn,
		AdminName: "admin", AdminPassword: []byte(tc.passAdmin)})
	if err != nil {
		t.Fatalf("ca.Init: %v", err)
	}
	groups := []string{"webadmins"}
	approval := true
	if _, err := ca.SetTemplate(dir, tmplAuto, ca.TemplateChange{Enroll: &groups}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SetTemplate(dir, tmplApproval, ca.TemplateChange{CopyFrom: tmplAuto, Approval: &approval, Enroll: &groups}); err != nil {
		t.Fatal(err)
	}
	eng, err := ca.Open(ctx, dir, ca.OpenOptions{Passphrase: pass, DSN: dsn})
	if err != nil {
		t.Fatalf("ca.Open: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, u := range []ca.UserSpec{
		{Name: "alice", Groups: groups, Password: []byte(tc.passAlice)},
		{Name: "bob", Groups: groups, Password: []byte(tc.passBob)},
		{Name: "carol", Password: []byte(tc.passCar)},
	} {
		if err := eng.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for user, dst := range map[string]*string{"admin": &tc.tokAdmin, "alice": &tc.tokAlice, "bob": &tc.tokBob, "carol": &tc.tokCarol} {
		if *dst, err = eng.NewToken(ctx, user); err != nil {
			t.Fatal(err)
		}
	}
	tc.eng, tc.dir, tc.pass = eng, dir, pass
	tc.written = func(t *testing.T) int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rs, _, err := eng.Requests(ctx, ca.Operator(), "", ca.Page{})
		if err != nil {
			t.Fatalf("count requests: %v", err)
		}
		cs, err := eng.Certificates(ctx, false, 0)
		if err != nil {
			t.Fatalf("count certificates: %v", err)
		}
		return len(rs) + len(cs)
	}
	return tc
}
