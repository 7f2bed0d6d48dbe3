package cli

// Commands that browse the local mirror: the namespaces exactly as they are
// (or will be) in Workers KV.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// kvCommands are the kv commands (the table: commandTable in cli.go).
func kvCommands() []command {
	return []command{
		{
			Name:    "kv list",
			Usage:   "nimbus kv list NAMESPACE [PREFIX]",
			Summary: "list the keys of a namespace in the local mirror (--json: keys and values)",
			Run:     kvList,
		},
		{
			Name:    "kv get",
			Usage:   "nimbus kv get NAMESPACE KEY",
			Summary: "print one value of the local mirror as pretty JSON",
			Run:     kvGet,
		},
	}
}

// parseNamespace accepts a namespace as the seed names it (NIMBUS_PAGES) or
// its short form in any case (pages).
func parseNamespace(s string) (model.Namespace, error) {
	up := strings.ToUpper(s)
	if !strings.HasPrefix(up, "NIMBUS_") {
		up = "NIMBUS_" + up
	}
	if ns := model.Namespace(up); ns.Valid() {
		return ns, nil
	}
	names := make([]string, len(model.Namespaces))
	for i, ns := range model.Namespaces {
		names[i] = string(ns)
	}
	return "", usagef("unknown namespace %q (one of %s)", s, strings.Join(names, ", "))
}

// kvEntry is one key and value of `kv list --json`.
type kvEntry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

func kvList(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("kv list", args, nil)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("kv list: need NAMESPACE and an optional PREFIX (usage: %s)", commandUsage("kv list"))
	}
	ns, err := parseNamespace(pos[0])
	if err != nil {
		return err
	}
	prefix := ""
	if len(pos) == 2 {
		prefix = pos[1]
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	if !e.JSON {
		keys, err := w.KVKeys(ns, prefix)
		if err != nil {
			return err
		}
		for _, k := range keys {
			e.printf("%s\n", k)
		}
		return nil
	}
	entries := []kvEntry{}
	err = w.KVList(ns, prefix, func(key string, value []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !json.Valid(value) {
			return fmt.Errorf("%s %s: stored value is not JSON", ns, key)
		}
		entries = append(entries, kvEntry{Key: key, Value: value})
		return nil
	})
	if err != nil {
		return err
	}
	return e.printJSON(entries)
}

func kvGet(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("kv get", args, nil)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("kv get: need NAMESPACE and KEY (usage: %s)", commandUsage("kv get"))
	}
	ns, err := parseNamespace(pos[0])
	if err != nil {
		return err
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	value, err := w.KVGet(ns, pos[1])
	if errors.Is(err, workspace.ErrNotFound) {
		return fmt.Errorf("%s has no key %q in %s ('nimbus kv list %s' shows the keys)", ns, pos[1], w.Path(), ns)
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, value, "", "  "); err != nil {
		return fmt.Errorf("%s %s: stored value is not JSON: %w", ns, pos[1], err)
	}
	out.WriteByte('\n')
	_, err = e.Stdout.Write(out.Bytes())
	return err
}
