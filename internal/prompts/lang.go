package prompts

import (
	"slices"
	"strings"
)

// Fallback is the language of last resort, the one Best returns when nothing
// preferred is near any language of the catalog.
const Fallback = "en-US"

// Languages returns the language tags of the catalog (BCP 47, as "pt-BR"),
// sorted.
func Languages() []string { return slices.Clone(tags) }

// Has reports whether the catalog has lang, compared case-insensitively with
// '_' taken for '-' ("pt_br" is "pt-BR").
func Has(lang string) bool {
	_, ok := langs[canonical(lang)]
	return ok
}

// Name returns the name of lang in lang itself, as "Deutsch (Deutschland)",
// or "" when the catalog does not have lang.
func Name(lang string) string { return Text(lang, LanguageName) }

// Best returns the catalog language nearest the first preferred tag that has
// one, trying for each tag in turn: the tag itself; then the same language in
// the nearest region or script ("en-AU" gets en-GB, "es-MX" es-US, "zh-HK"
// and "zh-Hant" zh-TW, "fr-BE" fr-FR); then the same language anywhere. With
// none, it returns Fallback. Tags are compared case-insensitively, with '_'
// taken for '-'; malformed ones are skipped.
//
// A caller's first choice wins even when only its language matches: a French
// speaker from Belgium preferring "fr-BE, en-GB" hears French, not English.
func Best(preferred ...string) string {
	for _, p := range preferred {
		if l := nearest(p); l != "" {
			return l
		}
	}
	return Fallback
}

// nearest returns the catalog language nearest tag, or "".
func nearest(tag string) string {
	c := canonical(tag)
	if _, ok := langs[c]; ok {
		return c
	}
	lang, rest, _ := strings.Cut(c, "-")
	if lang == "" {
		return ""
	}
	for sub := range strings.SplitSeq(rest, "-") {
		if l, ok := regional[lang+"-"+sub]; ok && Has(l) {
			return l
		}
	}
	if l, ok := regional[lang]; ok && Has(l) {
		return l
	}
	// Any language of the catalog with this primary subtag, the first by tag.
	for _, t := range tags {
		if strings.HasPrefix(t, lang+"-") {
			return t
		}
	}
	return ""
}

// regional maps a language with a region or script subtag, or a bare
// language, to the catalog language its speakers understand best where the
// catalog lacks the exact one. Regions not listed take the bare language's
// entry. Commonwealth English is nearer British; Spanish outside Spain is
// nearer the Latin American es-US; traditional-script Chinese, Taiwan, Hong
// Kong and Macao read zh-TW. Mandarin's own subtag (cmn) counts as zh.
var regional = map[string]string{
	"en": "en-US", "en-AU": "en-GB", "en-NZ": "en-GB", "en-IE": "en-GB", "en-IN": "en-GB",
	"en-ZA": "en-GB", "en-SG": "en-GB", "en-HK": "en-GB", "en-MT": "en-GB",
	"fr": "fr-FR",
	"es": "es-ES", "es-419": "es-US", "es-MX": "es-US", "es-AR": "es-US", "es-CO": "es-US",
	"es-CL": "es-US", "es-PE": "es-US", "es-VE": "es-US", "es-EC": "es-US", "es-GT": "es-US",
	"es-CU": "es-US", "es-BO": "es-US", "es-DO": "es-US", "es-HN": "es-US", "es-PY": "es-US",
	"es-SV": "es-US", "es-NI": "es-US", "es-CR": "es-US", "es-PA": "es-US", "es-UY": "es-US",
	"es-PR": "es-US",
	"pt":    "pt-BR",
	"zh":    "zh-CN", "zh-Hans": "zh-CN", "zh-SG": "zh-CN", "zh-Hant": "zh-TW", "zh-HK": "zh-TW", "zh-MO": "zh-TW",
	"cmn": "zh-CN", "cmn-Hans": "zh-CN", "cmn-Hant": "zh-TW", "cmn-TW": "zh-TW",
}

// canonical returns tag in BCP 47's preferred case, "zh-Hant-TW" for
// "ZH_hant_tw": language lower case, a four-letter script title case, a
// region upper case, other subtags lower case. It returns "" for a tag that
// is not letters, digits and separators, or whose first subtag is not two or
// three letters.
func canonical(tag string) string {
	parts := strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) == 0 || len(parts) != strings.Count(tag, "-")+strings.Count(tag, "_")+1 {
		return "" // empty subtags, as in "en--US"
	}
	for i, p := range parts {
		for _, c := range []byte(p) {
			if (c|0x20 < 'a' || c|0x20 > 'z') && (c < '0' || c > '9') {
				return ""
			}
		}
		p = strings.ToLower(p)
		switch {
		case i == 0:
			if len(p) < 2 || len(p) > 3 || strings.ContainsAny(p, "0123456789") {
				return ""
			}
		case len(p) == 4 && i == 1 && !strings.ContainsAny(p, "0123456789"):
			p = strings.ToUpper(p[:1]) + p[1:]
		case len(p) == 2 || (len(p) == 3 && strings.Trim(p, "0123456789") == ""):
			p = strings.ToUpper(p)
		}
		parts[i] = p
	}
	return strings.Join(parts, "-")
}
