package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"edgecert/internal/atomicfile"
)

// The journal of published challenge records (presented.json): a record is
// added before it is published and dropped once it is removed, so that a
// run killed in between leaves the next run the list of what to remove.
// The file exists only while the list is not empty.

// journal changes the list of published records under the lock.
func (c *Client) journal(change func([]*record) []*record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, err := c.readJournal()
	if err != nil {
		return err
	}
	rs = change(rs)
	if len(rs) == 0 {
		// Nothing is published: no journal, so that a run whose
		// records are all removed again leaves the directory as it was.
		if err := os.Remove(c.path(presentedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("acme: challenge journal: %w", err)
		}
		return nil
	}
	b, _ := json.MarshalIndent(rs, "", "  ")
	if err := atomicfile.Write(c.path(presentedFile), b, 0o600); err != nil {
		return fmt.Errorf("acme: challenge journal: %w", err)
	}
	return nil
}

func (c *Client) readJournal() ([]*record, error) {
	b, err := readBounded(c.path(presentedFile), maxStateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acme: challenge journal: %w", err)
	}
	var rs []*record
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("acme: challenge journal %s: %w", c.path(presentedFile), err)
	}
	return rs, nil
}

// cleanupLeftovers removes the records an interrupted run published.
func (c *Client) cleanupLeftovers(ctx context.Context) error {
	c.mu.Lock()
	rs, err := c.readJournal()
	c.mu.Unlock()
	if err != nil || len(rs) == 0 {
		return err
	}
	if err := c.unpublish(ctx, rs); err != nil {
		return fmt.Errorf("acme: remove the challenge records an interrupted run left: %w", err)
	}
	return nil
}
