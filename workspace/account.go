package workspace

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// SessionLifetime is how long a desktop session record is valid.
const SessionLifetime = 30 * 24 * time.Hour

// Account is the store's local account and this desktop's session.
type Account struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	SessionID string `json:"session_id"`
}

// Account returns the store's account without creating anything; ErrNoAccount
// when there is none yet.
func (w *Workspace) Account() (Account, error) {
	uid, err := w.store.Meta(metaUserID)
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	if uid == "" {
		return Account{}, ErrNoAccount
	}
	sid, err := w.store.Meta(metaSessionID)
	if err != nil {
		return Account{}, fmt.Errorf("read account session: %w", err)
	}
	u, err := localstore.GetJSON[model.UserData](w.store, model.NSUsers, model.UserKey(uid))
	if err != nil {
		return Account{}, fmt.Errorf("read account %s: %w", uid, err)
	}
	return Account{UserID: uid, Email: u.Email, SessionID: sid}, nil
}

// EnsureAccount returns the store's account, creating it on first use: the
// user:{id} record, the email:{email} index, an empty projects:{id} list, and
// a session:{id} for this desktop (renewed when expired; the old one is kept).
// email "" means the workspace's Options.Email. An existing account keeps its
// email; a store holds one account.
func (w *Workspace) EnsureAccount(ctx context.Context, email string) (Account, error) {
	var acc Account
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		var err error
		acc, err = w.ensureAccount(tx, email, time.Now())
		return err
	})
	return acc, err
}

// ensureAccount is EnsureAccount inside a caller's transaction, so that
// creating a project or a key on a fresh store is still one transaction.
func (w *Workspace) ensureAccount(tx *localstore.Tx, email string, now time.Time) (Account, error) {
	if email == "" {
		email = w.opts.Email
	}
	email = normalizeEmail(email)
	stamp := model.FormatTime(now)

	uid := tx.Meta(metaUserID)
	if uid == "" {
		// A store that pulled this editor's records from KV already knows
		// the user behind the email: adopt it instead of minting a second
		// identity for the same person.
		ed, ok, err := getJSON[model.EmailData](tx, model.NSEmails, model.EmailKey(email))
		if err != nil {
			return Account{}, fmt.Errorf("bootstrap account %s: %w", email, err)
		}
		if ok {
			uid = ed.UserID
		} else {
			uid = model.NewUserID()
			if err := tx.PutJSON(model.NSEmails, model.EmailKey(email), model.EmailData{UserID: uid, Created: stamp}); err != nil {
				return Account{}, fmt.Errorf("bootstrap account %s: %w", email, err)
			}
		}
		if err := tx.SetMeta(metaUserID, uid); err != nil {
			return Account{}, err
		}
	}

	user, ok, err := getJSON[model.UserData](tx, model.NSUsers, model.UserKey(uid))
	if err != nil {
		return Account{}, fmt.Errorf("bootstrap account %s: %w", uid, err)
	}
	if !ok {
		user = model.UserData{UserID: uid, Email: email, Created: stamp, Updated: stamp}
		if err := tx.PutJSON(model.NSUsers, model.UserKey(uid), user); err != nil {
			return Account{}, fmt.Errorf("bootstrap account %s: %w", uid, err)
		}
	}
	if _, ok, err := getJSON[model.ProjectsList](tx, model.NSUsers, model.ProjectsKey(uid)); err != nil {
		return Account{}, fmt.Errorf("bootstrap account %s: %w", uid, err)
	} else if !ok {
		if err := tx.PutJSON(model.NSUsers, model.ProjectsKey(uid), model.ProjectsList{}); err != nil {
			return Account{}, fmt.Errorf("bootstrap account %s: %w", uid, err)
		}
	}

	sid, err := w.ensureSession(tx, user, now)
	if err != nil {
		return Account{}, err
	}
	return Account{UserID: uid, Email: user.Email, SessionID: sid}, nil
}

// ensureSession keeps one live session for this desktop: the one in meta
// while it has not expired, else a new one (the expired record stays; nothing
// is deleted).
func (w *Workspace) ensureSession(tx *localstore.Tx, user model.UserData, now time.Time) (string, error) {
	if sid := tx.Meta(metaSessionID); sid != "" {
		s, ok, err := getJSON[model.SessionData](tx, model.NSSessions, model.SessionKey(sid))
		if err != nil {
			return "", fmt.Errorf("read session %s: %w", sid, err)
		}
		if ok {
			if exp, err := model.ParseTime(s.Expires); err == nil && now.Before(exp) {
				return sid, nil
			}
		}
	}
	sid := model.NewSessionID()
	s := model.SessionData{
		UserID:    user.UserID,
		Email:     user.Email,
		Created:   model.FormatTime(now),
		Expires:   model.FormatTime(now.Add(SessionLifetime)),
		IP:        "127.0.0.1",
		UserAgent: w.opts.UserAgent,
	}
	if err := tx.PutJSON(model.NSSessions, model.SessionKey(sid), s); err != nil {
		return "", fmt.Errorf("create session for %s: %w", user.UserID, err)
	}
	if err := tx.SetMeta(metaSessionID, sid); err != nil {
		return "", err
	}
	return sid, nil
}

// addToList adds id to the sorted string list at key (projects:, apikeys:),
// keeping the merge law's form (set union, sorted) so the stored bytes equal
// what a merge with any copy of it would produce.
func addToList(tx *localstore.Tx, key, id string) error {
	list, _, err := getJSON[[]string](tx, model.NSUsers, key)
	if err != nil {
		return err
	}
	if slices.Contains(list, id) {
		return nil
	}
	list = append(list, id)
	slices.Sort(list)
	if err := tx.PutJSON(model.NSUsers, key, list); err != nil {
		return fmt.Errorf("add %s to %s: %w", id, key, err)
	}
	return nil
}
