package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"edgecert/internal/readlimit"
)

// Secrets (passphrases, passwords, tokens) come from files given on the
// command line or named by environment variables, or from a prompt without
// echo when standard input is a terminal; never from flags' values.

// readSecretFile returns the first line of a password or passphrase file,
// warning on env.Err when others than its owner may read the file.
func readSecretFile(env *Env, path, what string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", invalidInput(fmt.Errorf("%s file: %w", what, err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(env.Err, "warning: %s file %s can be read by others than its owner (mode %04o); run: chmod 600 %s\n", what, path, st.Mode().Perm(), path)
	}
	b, err := readlimit.Reader(f, path, readlimit.SecretFile)
	if err != nil {
		return "", invalidInput(fmt.Errorf("%s file: %w", what, err))
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// readRequiredSecret is readSecretFile for secrets that may not be empty.
func readRequiredSecret(env *Env, path, what string) ([]byte, error) {
	s, err := readSecretFile(env, path, what)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, invalidInput(fmt.Errorf("%s file %s is empty", what, path))
	}
	return []byte(s), nil
}

// readCAPassphrase reads the CA key passphrase: --passphrase-file, else the
// file named by $EDGECERT_CA_PASSPHRASE_FILE, else a prompt on a terminal.
func readCAPassphrase(env *Env, file string) ([]byte, error) {
	if file == "" {
		file = os.Getenv("EDGECERT_CA_PASSPHRASE_FILE")
	}
	if file != "" {
		return readRequiredSecret(env, file, "passphrase")
	}
	f, ok := env.In.(*os.File)
	if !env.InTTY || !ok {
		return nil, invalidInput(errors.New("the CA key passphrase is needed: give --passphrase-file or set EDGECERT_CA_PASSPHRASE_FILE"))
	}
	fmt.Fprint(env.Err, "CA key passphrase: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(env.Err)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	return b, nil
}

// password returns the password from file, else prompts on a terminal
// (twice when confirm), else fails with what to do.
func password(env *Env, file, what string, confirm bool) (string, error) {
	if file != "" {
		return readSecretFile(env, file, what)
	}
	f, ok := env.In.(*os.File)
	if !env.InTTY || !ok {
		return "", invalidInput(fmt.Errorf("%s needed: give --password-file (standard input is not a terminal to prompt on)", what))
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(env.Err, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Err)
		return string(b), err
	}
	p, err := read("Enter " + what + ": ")
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := read("Confirm " + what + ": ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", invalidInput(errors.New("the two passwords differ"))
		}
	}
	return p, nil
}
