package workspace

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/model"
)

// CheckSettings is the check every settings change passes (UpdateSettings
// runs it): the record's rules and the extraction options compiling
// (selectors, path pattern, fold element).
func CheckSettings(st model.ProjectSettings) error {
	if err := st.Validate(); err != nil {
		return err
	}
	return extract.CheckOptions(extract.OptionsFromSettings(st, ""))
}

// SettingKeys are the project settings a user can set by name (the JSON
// names of model.ProjectSettings), for `nimbus project set KEY=VALUE`; the
// GUI's Settings view sets the same fields. UpdateSettings validates the
// result either way.
var SettingKeys = []string{
	"tone", "max_pages_per_batch", "default_concurrency", "ai_model", "domain",
	"main_selector", "above_fold_max", "above_fold_until", "dimension_sources",
	"path_pattern", "css_extractors", "max_file_bytes",
}

// SetSetting sets one setting from its text form: numbers as decimal,
// dimension_sources as a comma list (path,data,meta,css), css_extractors as
// name=selector pairs separated by ";" (empty: none). An empty value clears
// an optional setting.
func SetSetting(st *model.ProjectSettings, key, value string) error {
	value = strings.TrimSpace(value)
	num := func() (int64, error) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("setting %s: %q is not a whole number", key, value)
		}
		return n, nil
	}
	switch key {
	case "tone":
		st.Tone = value
	case "ai_model":
		st.AIModel = value
	case "domain":
		st.Domain = value
	case "main_selector":
		st.MainSelector = value
	case "above_fold_until":
		st.AboveFoldUntil = value
	case "path_pattern":
		st.PathPattern = value
	case "max_pages_per_batch", "default_concurrency", "above_fold_max", "max_file_bytes":
		n, err := num()
		if err != nil {
			return err
		}
		switch key {
		case "max_pages_per_batch":
			st.MaxPagesPerBatch = int(n)
		case "default_concurrency":
			st.DefaultConcurrency = int(n)
		case "above_fold_max":
			st.AboveFoldMax = int(n)
		default:
			st.MaxFileBytes = n
		}
	case "dimension_sources":
		st.DimensionSources = nil
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				st.DimensionSources = append(st.DimensionSources, s)
			}
		}
	case "css_extractors":
		st.CSSExtractors = nil
		for _, pair := range strings.Split(value, ";") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			name, sel, ok := strings.Cut(pair, "=")
			if !ok {
				return fmt.Errorf("setting css_extractors: %q is not name=selector", pair)
			}
			if st.CSSExtractors == nil {
				st.CSSExtractors = map[string]string{}
			}
			st.CSSExtractors[strings.TrimSpace(name)] = strings.TrimSpace(sel)
		}
	default:
		keys := append([]string(nil), SettingKeys...)
		sort.Strings(keys)
		return fmt.Errorf("no setting %q (settings: %s)", key, strings.Join(keys, ", "))
	}
	return nil
}
