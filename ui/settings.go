package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// settingsView is the Settings screen: project settings, API keys and the
// account.
type settingsView struct {
	s       *Shell
	project string
	stamp   string // settings_updated of the values in the form

	tone, aiModel                  *widget.SelectEntry
	maxPages, concurrency, domain  *field
	mainSelector, foldMax, foldEnd *field
	pathPattern, maxFile           *field
	sources                        *widget.CheckGroup
	save                           *widget.Button
	saved                          *widget.Label
	form                           *widget.Form

	keys     []workspace.APIKey
	keyList  *widget.List
	keyName  *field
	email    *widget.Label
	storeLbl *widget.Label

	cfAccount *field
	cfToken   *field
	cfSetup   *widget.Button
	cfResult  *widget.Label
	cfRate    *field
	cfRateSet *widget.Button
	cfTest    *widget.Button
	cfWhere   *widget.Label

	appearance *widget.RadioGroup
}

func newSettingsView(s *Shell) *settingsView {
	v := &settingsView{s: s}
	v.tone = widget.NewSelectEntry(model.Tones)
	v.aiModel = widget.NewSelectEntry([]string{"gpt-4o-mini", "gpt-4o", "gpt-4", "gpt-3.5-turbo"})
	v.maxPages = newField(s, false)
	v.concurrency = newField(s, false)
	v.domain = newField(s, false)
	v.mainSelector = newField(s, false)
	v.mainSelector.SetPlaceHolder("main (then [role=main], article, body)")
	v.foldMax = newField(s, false)
	v.foldMax.SetPlaceHolder("8")
	v.foldEnd = newField(s, false)
	v.foldEnd.SetPlaceHolder("h2")
	v.pathPattern = newField(s, false)
	v.pathPattern.SetPlaceHolder("local/{location}/{brand}-{service}.html")
	v.maxFile = newField(s, false)
	v.maxFile.SetPlaceHolder("bytes; empty = default")
	v.sources = widget.NewCheckGroup(model.DimensionSources, nil)
	v.sources.Horizontal = true
	v.saved = widget.NewLabel("")
	v.saved.Importance = widget.LowImportance
	v.form = widget.NewForm(
		widget.NewFormItem("Tone", v.tone),
		widget.NewFormItem("Max pages per batch", v.maxPages),
		widget.NewFormItem("Default concurrency", v.concurrency),
		widget.NewFormItem("AI model", v.aiModel),
		widget.NewFormItem("Domain", v.domain),
		widget.NewFormItem("Main selector", v.mainSelector),
		widget.NewFormItem("Above the fold: max blocks", v.foldMax),
		widget.NewFormItem("Above the fold: ends at", v.foldEnd),
		widget.NewFormItem("Dimension sources", v.sources),
		widget.NewFormItem("Path pattern", v.pathPattern),
		widget.NewFormItem("File size limit", v.maxFile),
	)
	v.save = widget.NewButtonWithIcon("Save settings", theme.DocumentSaveIcon(), v.saveSettings)
	v.save.Importance = widget.HighImportance

	v.keyName = newField(s, false)
	v.keyName.SetPlaceHolder("Key name, e.g. Production Key")
	v.keyList = widget.NewList(
		func() int { return len(v.keys) },
		func() fyne.CanvasObject {
			name := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			info := widget.NewLabel("")
			info.Importance = widget.LowImportance
			info.Truncation = fyne.TextTruncateEllipsis
			deact := widget.NewButton("Deactivate", nil)
			return container.NewBorder(nil, nil, name, deact, info)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.keys) {
				return
			}
			k := v.keys[i]
			c := o.(*fyne.Container)
			c.Objects[1].(*widget.Label).SetText(k.Data.Name)
			state := "active"
			if !k.Data.Active {
				state = "deactivated"
			}
			c.Objects[0].(*widget.Label).SetText(fmt.Sprintf("%s · %s… · created %s · %d requests", state, k.Hash[:min(len(k.Hash), 19)], shortTime(k.Data.Created), k.Data.Usage.RequestsTotal))
			b := c.Objects[2].(*widget.Button)
			hash := k.Hash
			b.OnTapped = func() { v.deactivate(hash) }
			if k.Data.Active {
				b.Enable()
			} else {
				b.Disable()
			}
		},
	)
	v.email = widget.NewLabel("")
	v.storeLbl = widget.NewLabel("")
	v.storeLbl.Importance = widget.LowImportance
	v.storeLbl.Wrapping = fyne.TextWrapBreak

	v.cfAccount = newField(s, false)
	v.cfAccount.SetPlaceHolder("Cloudflare account ID (or $CLOUDFLARE_ACCOUNT_ID)")
	v.cfToken = newPasswordField(s)
	v.cfToken.SetPlaceHolder("API token (or $CLOUDFLARE_API_TOKEN); kept in the OS keyring")
	v.cfSetup = widget.NewButtonWithIcon("Connect and set up namespaces", theme.StorageIcon(), v.setupCloudflare)
	v.cfResult = widget.NewLabel("")
	v.cfResult.Wrapping = fyne.TextWrapWord
	v.cfRate = newField(s, false)
	v.cfRate.SetPlaceHolder("3")
	v.cfRateSet = widget.NewButton("Save budget", v.saveRate)
	v.cfTest = widget.NewButtonWithIcon("Test connection", theme.SearchIcon(), v.testConnection)
	v.cfWhere = widget.NewLabel("")
	v.cfWhere.Importance = widget.LowImportance
	v.cfWhere.Wrapping = fyne.TextWrapWord
	v.appearance = widget.NewRadioGroup(appearances, nil)
	v.appearance.Horizontal = true
	v.appearance.Required = true
	v.appearance.SetSelected(appearance(s.app))
	// Set after the saved choice is shown: showing it changes nothing.
	v.appearance.OnChanged = func(choice string) {
		applyAppearance(s.app, choice, true)
		s.themeChanged()
	}
	return v
}

// saveRate stores the account's request budget (requests per second).
func (v *settingsView) saveRate() {
	r, err := strconv.ParseFloat(strings.TrimSpace(v.cfRate.Text), 64)
	if err == nil {
		err = v.s.ws.SetSyncRate(r)
	} else {
		err = fmt.Errorf("request budget %q: not a number of requests per second", v.cfRate.Text)
	}
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.cfResult.SetText(fmt.Sprintf("Request budget saved: %g requests/s (about %d per 5 minutes); used from the next sync.", r, int(r*300)))
	if !v.s.opts.Synchronous {
		v.s.syncer.start()
	}
}

// testConnection lists the account's namespaces (one request, nothing
// changed) off the UI goroutine.
func (v *settingsView) testConnection() {
	v.cfTest.Disable()
	v.cfResult.SetText("Testing…")
	v.s.bg(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := v.s.ws.TestConnection(ctx, workspace.SyncOptions{})
		return func() {
			v.cfTest.Enable()
			if err != nil {
				v.cfResult.SetText("")
				v.s.showErr(err)
				return
			}
			msg := fmt.Sprintf("Connected to account %s: %d of the 11 namespaces exist.", res.AccountID, len(res.Found))
			if len(res.Missing) > 0 {
				msg += " \"Connect and set up namespaces\" creates the others."
			}
			v.cfResult.SetText(msg)
		}
	})
}

// loadConnection shows the budget and where the token is kept; reading the
// keyring can block on an unlock prompt, so it runs off the UI goroutine.
func (v *settingsView) loadConnection() {
	v.s.bg(func() func() {
		c := v.s.ws.Connection()
		return func() {
			v.cfRate.SetText(strconv.FormatFloat(c.Rate, 'g', -1, 64))
			v.cfWhere.SetText("API token: " + c.TokenPlace() + ". It never goes into the store, logs or preferences.")
		}
	})
}

// setupCloudflare saves the credentials (token to the keyring or a 0600
// file, never the store), finds or creates the eleven namespaces, and
// restarts sync. Setup talks to the network, so it runs off the UI goroutine.
func (v *settingsView) setupCloudflare() {
	o := workspace.SetupOptions{}
	account, token := strings.TrimSpace(v.cfAccount.Text), strings.TrimSpace(v.cfToken.Text)
	if token != "" {
		if account == "" {
			v.s.showErr(errors.New("the Cloudflare account ID is needed with a token"))
			return
		}
		o.Credentials = &workspace.Credentials{AccountID: account, Token: token}
		o.SaveToken = true
	}
	v.cfSetup.Disable()
	v.cfResult.SetText("Connecting…")
	v.s.bg(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := v.s.ws.Setup(ctx, o)
		return func() {
			v.cfSetup.Enable()
			if err != nil {
				v.cfResult.SetText("")
				v.s.showErr(err)
				return
			}
			v.cfToken.SetText("")
			msg := fmt.Sprintf("Connected to account %s: %d namespaces found, %d created.", res.AccountID, len(res.Found), len(res.Created))
			if res.TokenSaved != "" {
				msg += " Token saved in the " + res.TokenSaved + "."
			}
			v.cfResult.SetText(msg)
			v.loadConnection()
			if !v.s.opts.Synchronous {
				v.s.syncer.start()
			}
		}
	})
}

func (v *settingsView) content() fyne.CanvasObject {
	create := widget.NewButtonWithIcon("Create key", theme.ContentAddIcon(), v.createKey)
	keyArea := container.NewBorder(container.NewBorder(nil, nil, nil, create, v.keyName), nil, nil, nil,
		container.NewGridWrap(fyne.NewSize(640, 200), v.keyList))
	project := container.NewVBox(heading("Project"), v.form, container.NewHBox(v.save, v.saved))
	keys := container.NewVBox(heading("API keys"),
		widget.NewLabel("A key is shown once when created; only its SHA-256 hash is stored."), keyArea)
	account := container.NewVBox(heading("Account"), v.email, v.storeLbl)
	look := container.NewVBox(heading("Appearance"), v.appearance)
	cf := container.NewVBox(heading("Cloudflare"),
		widget.NewForm(widget.NewFormItem("Account ID", v.cfAccount), widget.NewFormItem("API token", v.cfToken),
			widget.NewFormItem("Request budget (req/s)", container.NewBorder(nil, nil, nil, v.cfRateSet, v.cfRate))),
		v.cfWhere, container.NewHBox(v.cfSetup, v.cfTest), v.cfResult)
	// Appearance first: two lines, and the page does not scroll with the
	// wheel over a field (Fyne's entries take the wheel), so the bottom is
	// hard to reach.
	return container.NewVScroll(container.NewPadded(container.NewVBox(look, widget.NewSeparator(), project, widget.NewSeparator(), cf, widget.NewSeparator(),
		keys, widget.NewSeparator(), account)))
}

func (v *settingsView) load(projectID string) {
	v.project = projectID
	if projectID == "" {
		v.form.Hide()
		v.save.Hide()
	} else if p, err := v.s.ws.Project(projectID); err != nil {
		v.s.showErr(err)
	} else {
		v.form.Show()
		v.save.Show()
		v.fill(p)
	}
	v.loadKeys()
	if acc, err := v.s.ws.Account(); err == nil {
		v.email.SetText("Signed in locally as " + acc.Email)
	} else {
		v.email.SetText("No local account yet; it is created with the first project.")
	}
	v.storeLbl.SetText("Local store: " + v.s.ws.StorePath())
	if id := v.s.ws.SavedAccountID(); id != "" && v.cfAccount.Text == "" {
		v.cfAccount.SetText(id)
	}
	v.loadConnection()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func (v *settingsView) fill(p model.ProjectData) {
	v.stamp = p.SettingsUpdated
	st := p.Settings
	v.tone.SetText(st.Tone)
	v.maxPages.SetText(itoa(st.MaxPagesPerBatch))
	v.concurrency.SetText(itoa(st.DefaultConcurrency))
	v.aiModel.SetText(st.AIModel)
	v.domain.SetText(st.Domain)
	v.mainSelector.SetText(st.MainSelector)
	v.foldMax.SetText(itoa(st.AboveFoldMax))
	v.foldEnd.SetText(st.AboveFoldUntil)
	v.pathPattern.SetText(st.PathPattern)
	if st.MaxFileBytes > 0 {
		v.maxFile.SetText(strconv.FormatInt(st.MaxFileBytes, 10))
	} else {
		v.maxFile.SetText("")
	}
	v.sources.SetSelected(st.DimensionSources)
	v.saved.SetText("Last changed " + ago(p.SettingsUpdated))
}

// shown brings "Last changed 5 min ago" up to date: it was computed when
// the project was loaded and read "just now" an hour later.
func (v *settingsView) shown() {
	if v.saved != nil && v.project != "" {
		v.saved.SetText("Last changed " + ago(v.stamp))
	}
}

// parseInt reads an optional whole-number field.
func parseInt(field, s string) (int64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a whole number", field, s)
	}
	return n, nil
}

func (v *settingsView) saveSettings() {
	if v.project == "" {
		return
	}
	maxPages, err1 := parseInt("max pages per batch", v.maxPages.Text)
	conc, err2 := parseInt("default concurrency", v.concurrency.Text)
	foldMax, err3 := parseInt("above the fold: max blocks", v.foldMax.Text)
	maxFile, err4 := parseInt("file size limit", v.maxFile.Text)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			v.s.showErr(err)
			return
		}
	}
	p, err := v.s.ws.UpdateSettings(context.Background(), v.project, func(st *model.ProjectSettings) {
		st.Tone = strings.TrimSpace(v.tone.Text)
		st.MaxPagesPerBatch = int(maxPages)
		st.DefaultConcurrency = int(conc)
		st.AIModel = strings.TrimSpace(v.aiModel.Text)
		st.Domain = strings.TrimSpace(v.domain.Text)
		st.MainSelector = strings.TrimSpace(v.mainSelector.Text)
		st.AboveFoldMax = int(foldMax)
		st.AboveFoldUntil = strings.TrimSpace(v.foldEnd.Text)
		st.DimensionSources = append([]string(nil), v.sources.Selected...)
		st.PathPattern = strings.TrimSpace(v.pathPattern.Text)
		st.MaxFileBytes = maxFile
	})
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.fill(p)
	v.saved.SetText("Saved")
}

func (v *settingsView) loadKeys() {
	keys, err := v.s.ws.APIKeys()
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.keys = keys
	v.keyList.Refresh()
}

func (v *settingsView) createKey() {
	key, _, err := v.s.ws.CreateAPIKey(context.Background(), v.keyName.Text)
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.keyName.SetText("")
	v.loadKeys()
	shown := widget.NewEntry()
	shown.SetText(key)
	shown.TextStyle = fyne.TextStyle{Monospace: true}
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() { v.s.app.Clipboard().SetContent(key) })
	msg := widget.NewLabel("Copy the key now: it is shown only this once and cannot be recovered.")
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("New API key", "Done", container.NewVBox(msg, container.NewBorder(nil, nil, nil, copyBtn, shown)), v.s.win)
	d.Resize(fyne.NewSize(560, 200))
	v.s.present(d, d.Hide) // Enter or Esc closes it (the key stays in the field until then)
}

func (v *settingsView) deactivate(hash string) {
	v.s.confirm("Deactivate key", "Requests with this key will be refused. Deactivation cannot be undone.", false, func(ok bool) {
		if !ok {
			return
		}
		if _, err := v.s.ws.DeactivateAPIKey(context.Background(), hash); err != nil {
			v.s.showErr(err)
		}
		v.loadKeys()
	})
}

func (v *settingsView) changed(cs *changeSet) {
	if cs.any(model.NSKeys, model.NSUsers) {
		v.loadKeys()
	}
	// Refill the form only when the settings themselves changed (another
	// window or editor), not for usage updates, so typing is not lost.
	if _, ok := cs.keys[model.ProjectKey(v.project)]; (ok || cs.overflow) && v.project != "" {
		if p, err := v.s.ws.Project(v.project); err == nil && p.SettingsUpdated != v.stamp {
			v.fill(p)
		}
	}
}
