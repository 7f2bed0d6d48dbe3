package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// DefaultKeyName names API keys created without a name.
const DefaultKeyName = "Nimbus Desktop key"

// APIKey is one of the account's API keys as stored: its hash and record.
// The key itself is never stored.
type APIKey struct {
	Hash string        `json:"hash"`
	Data model.KeyData `json:"data"`
}

// CreateAPIKey issues a new sk_live_ key for the account (bootstrapping it on
// a fresh store). Only the KeyData at apikey:sha256:... and the hash in
// apikeys:{user_id} are stored; the key is returned once and must be shown to
// the user, never logged or written anywhere.
func (w *Workspace) CreateAPIKey(ctx context.Context, name string) (key, hash string, err error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = DefaultKeyName
	}
	key, hash = model.NewAPIKey()
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		now := time.Now()
		acc, err := w.ensureAccount(tx, "", now)
		if err != nil {
			return err
		}
		kd := model.KeyData{UserID: acc.UserID, Created: model.FormatTime(now), Active: true, Name: name}
		if err := tx.PutJSON(model.NSKeys, model.APIKeyKey(hash), kd); err != nil {
			return fmt.Errorf("create API key %q: %w", name, err)
		}
		if err := addToList(tx, model.APIKeysKey(acc.UserID), hash); err != nil {
			return fmt.Errorf("create API key %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return key, hash, nil
}

// APIKeys returns the account's keys (active and deactivated) in hash order;
// none when the store has no account yet.
func (w *Workspace) APIKeys() ([]APIKey, error) {
	acc, err := w.Account()
	if errors.Is(err, ErrNoAccount) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	hashes, err := localstore.GetJSON[[]string](w.store, model.NSUsers, model.APIKeysKey(acc.UserID))
	if errors.Is(err, localstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	keys := make([]APIKey, 0, len(hashes))
	for _, h := range hashes {
		kd, err := localstore.GetJSON[model.KeyData](w.store, model.NSKeys, model.APIKeyKey(h))
		if errors.Is(err, localstore.ErrNotFound) {
			// Listed but not (yet) pulled: show the hash rather than hide it.
			keys = append(keys, APIKey{Hash: h})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		keys = append(keys, APIKey{Hash: h, Data: kd})
	}
	return keys, nil
}

// DeactivateAPIKey sets active:false on one of the account's keys. The record
// stays (nothing is deleted) and deactivation is sticky in the merge, so the
// Worker stops accepting the key everywhere once synced. Deactivating an
// inactive key changes nothing.
func (w *Workspace) DeactivateAPIKey(ctx context.Context, hash string) (model.KeyData, error) {
	var kd model.KeyData
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		uid := tx.Meta(metaUserID)
		var ok bool
		var err error
		kd, ok, err = getJSON[model.KeyData](tx, model.NSKeys, model.APIKeyKey(hash))
		if err != nil {
			return fmt.Errorf("deactivate API key %s: %w", hash, err)
		}
		if !ok || uid == "" || kd.UserID != uid {
			return fmt.Errorf("deactivate API key %s: %w ('nimbus key list' shows the hashes)", hash, ErrNoKey)
		}
		if !kd.Active {
			return nil
		}
		kd.Active = false
		return tx.PutJSON(model.NSKeys, model.APIKeyKey(hash), kd)
	})
	return kd, err
}
